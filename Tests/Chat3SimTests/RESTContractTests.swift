import ChatCore
import Testing
@testable import Chat3Sim

@Suite struct RESTContractTests {
    @Test func requestsWithoutAnAPIKeyGetChat3sUnauthorizedBody() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        let missing = await fixture.call("GET", "/api/dialogs", key: nil)
        #expect(missing.status == 401)
        #expect(missing.json == ["error": "Unauthorized",
                                 "message": "API key is required. Please provide it in the X-API-Key header."])
        let wrong = await fixture.call("GET", "/api/dialogs", key: "nope")
        #expect(wrong.status == 401)
        #expect(wrong.json?["message"] == "Invalid API key")
        let hook = await fixture.call("GET", "/_sim/requests", key: nil)
        #expect(hook.status == 401)
        let health = await fixture.call("GET", "/health", key: nil)
        #expect(health.status == 200)
        #expect(health.json?["status"] == "ok")
    }

    @Test func anUnknownTenantIsNotFoundAndTheHeaderIsLowercased() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        let unknown = await fixture.call("GET", "/api/dialogs", tenant: "tnt_nope")
        #expect(unknown.status == 404)
        #expect(unknown.json == ["error": "Not Found", "message": "Tenant 'tnt_nope' not found"])
        let known = await fixture.call("GET", "/api/dialogs", tenant: " TNT_DEFAULT ")
        #expect(known.status == 200)
    }

    @Test func aKeyWithoutThePermissionIsForbidden() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        _ = await fixture.call("POST", "/_sim/keys", ["key": "reader", "permissions": ["read"]])
        let denied = await fixture.call("POST", "/api/dialogs", [:], key: "reader")
        #expect(denied.status == 403)
        #expect(denied.json?["message"] == "Permission 'write' is required")
        #expect(await fixture.call("GET", "/api/dialogs", key: "reader").status == 200)
    }

    @Test func usersAreCreatedOnceFetchedUpdatedAndDeletedWithChat3StatusCodes() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        let created = await fixture.call("POST", "/api/users", ["userId": "Carl", "type": "bot", "name": "stripped"])
        #expect(created.status == 201)
        let user = try #require(created.json?["data"])
        #expect(user["userId"] == "carl")
        #expect(user["type"] == "bot")
        #expect(user["tenantId"] == "tnt_default")
        #expect(user["name"] == nil)
        #expect(isSixDecimalTimestamp(user["createdAt"]))

        let again = await fixture.call("POST", "/api/users", ["userId": "carl"])
        #expect(again.status == 409)
        #expect(again.json == ["error": "Conflict", "message": "User already exists"])

        let fetched = try await fixture.data("GET", "/api/users/carl")
        #expect(fetched["meta"] == [:])
        #expect(fetched["stats"]?["dialogCount"] == 0)

        let updated = try await fixture.data("PUT", "/api/users/carl", ["type": "user"])
        #expect(updated["type"] == "user")

        let deleted = await fixture.call("DELETE", "/api/users/carl")
        #expect(deleted.status == 204)
        #expect(deleted.body.isEmpty)
        let gone = await fixture.call("GET", "/api/users/carl")
        #expect(gone.status == 404)
        #expect(gone.json == ["error": "Not Found", "message": "User not found"])

        let dotted = await fixture.call("POST", "/api/users", ["userId": "a.b"])
        #expect(dotted.status == 400)
        #expect(dotted.json?["message"] == "Validation error")
        #expect(dotted.json?["details"]?.arrayValue?.first?["field"] == "userId")
    }

    @Test func aCreatedDialogHasChat3sShapeAndAutoCreatesItsMembers() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        let response = await fixture.call("POST", "/api/dialogs", [
            "members": [["userId": "alice"], ["userId": "bob", "type": "bot"]],
            "meta": ["name": "Team", "color": ["value": "red", "dataType": "string"]],
            "createdBy": "stripped",
        ])
        #expect(response.status == 201)
        #expect(response.json?["message"] == "Dialog created successfully")
        let dialog = try #require(response.json?["data"])
        let dialogId = try #require(dialog["dialogId"]?.stringValue)
        #expect(SimID.isDialogID(dialogId))
        #expect(dialog["meta"] == ["name": "Team", "color": "red"])
        #expect(dialog["stats"] == ["topicCount": 0, "memberCount": 2, "messageCount": 0])
        #expect(dialog["createdBy"] == nil)
        #expect(dialog["memberCount"] == nil)
        #expect(isSixDecimalTimestamp(dialog["createdAt"]))
        #expect(try await fixture.data("GET", "/api/users/bob")["type"] == "bot")

        let fetched = try await fixture.data("GET", "/api/dialogs/\(dialogId)")
        #expect(fetched["dialogId"]?.stringValue == dialogId)

        let members = await fixture.call("GET", "/api/dialogs/\(dialogId)/members")
        #expect(members.json?["pagination"] == ["page": 1, "limit": 10, "total": 2, "pages": 1])
        let first = try #require(members.json?["data"]?.arrayValue?.first)
        #expect(Set(first.objectValue!.keys) == ["userId", "tenantId", "dialogId", "createdAt", "meta"])
    }

    @Test func dialogIdsAreValidatedBeforeLookup() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        let bad = await fixture.call("GET", "/api/dialogs/nope")
        #expect(bad.status == 400)
        #expect(bad.json?["field"] == "dialogId")
        #expect(bad.json?["received"] == "nope")
        let missing = await fixture.call("GET", "/api/dialogs/dlg_aaaaaaaaaaaaaaaaaaaa")
        #expect(missing.status == 404)
        #expect(missing.json == ["error": "Not Found", "message": "Dialog not found"])
    }

    @Test func dialogListsPaginateAndFilterByMetaMemberAndID() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        var ids: [String] = []
        for index in 0..<5 {
            ids.append(try await fixture.createDialog(["alice", index % 2 == 0 ? "bob" : "carl"],
                                                      meta: ["name": .string("d\(index)")]))
        }
        let page = await fixture.call("GET", "/api/dialogs?page=2&limit=2")
        #expect(page.json?["pagination"] == ["page": 2, "limit": 2, "total": 5, "pages": 3])
        #expect(page.json?["data"]?.arrayValue?.map { $0["dialogId"]!.stringValue! } == Array(ids[2..<4]))
        #expect(page.json?["data"]?.arrayValue?.first?["memberCount"] == 2)

        let byMeta = try await fixture.data("GET", "/api/dialogs?filter=(meta.name,eq,d3)")
        #expect(byMeta.arrayValue?.map { $0["dialogId"]!.stringValue! } == [ids[3]])
        let byMember = try await fixture.data("GET", "/api/dialogs?filter=(member,eq,carl)")
        #expect(byMember.arrayValue?.count == 2)
        let byIDs = try await fixture.data("GET", "/api/dialogs?filter=(dialogId,in,[\(ids[0]),\(ids[4])])")
        #expect(byIDs.arrayValue?.count == 2)
        let both = try await fixture.data("GET", "/api/dialogs?filter=(member,eq,bob)%26(meta.name,eq,d2)")
        #expect(both.arrayValue?.map { $0["dialogId"]!.stringValue! } == [ids[2]])

        let tooBig = await fixture.call("GET", "/api/dialogs?limit=101")
        #expect(tooBig.status == 400)
        #expect(tooBig.json?["message"] == "Validation error")
        let badFilter = await fixture.call("GET", "/api/dialogs?filter=(meta.name,zz,1)")
        #expect(badFilter.status == 400)
    }

    @Test func messagesOmitNullFieldsAndListNewestFirst() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        let dialogId = try await fixture.createDialog(["alice", "bob"])
        let created = await fixture.call("POST", "/api/dialogs/\(dialogId)/messages",
                                         ["senderId": "alice", "content": "one"])
        #expect(created.status == 201)
        #expect(created.json?["message"] == "Message created successfully")
        let message = try #require(created.json?["data"])
        #expect(SimID.isMessageID(message["messageId"]!.stringValue!))
        #expect(message["type"] == "internal.text")
        #expect(message["topicId"] == nil)
        #expect(message["quotedMessage"] == nil)
        #expect(message["statusMessageMatrix"] == nil)
        #expect(message["senderInfo"]?["userId"] == "alice")
        _ = try await fixture.sendMessage(dialogId, from: "bob", "two")

        let list = await fixture.call("GET", "/api/dialogs/\(dialogId)/messages")
        #expect(list.json?["data"]?.arrayValue?.map { $0["content"]!.stringValue! } == ["two", "one"])
        #expect(list.json?["data"]?.arrayValue?.last?["statusMessageMatrix"] ==
                [["userType": "user", "status": "unread", "count": 1]])
        let ascending = try await fixture.data("GET", "/api/dialogs/\(dialogId)/messages?sort=(createdAt,asc)")
        #expect(ascending.arrayValue?.map { $0["content"]!.stringValue! } == ["one", "two"])

        let empty = await fixture.call("POST", "/api/dialogs/\(dialogId)/messages", ["senderId": "alice"])
        #expect(empty.status == 400)
        #expect(empty.json?["details"]?.arrayValue?.first?["field"] == "content")
        let topic = await fixture.call("POST", "/api/dialogs/\(dialogId)/messages",
                                       ["senderId": "alice", "content": "x", "topicId": "topic_aaaaaaaaaaaaaaaaaaaa"])
        #expect(topic.json == ["error": "ERROR_NO_TOPIC", "message": "Topic not found"])

        let messageId = message["messageId"]!.stringValue!
        let edited = try await fixture.data("PUT", "/api/messages/\(messageId)", ["content": "edited"])
        #expect(edited["content"] == "edited")
        #expect(edited["meta"]?["editedAt"]?.doubleValue != nil)
        #expect(try await fixture.data("GET", "/api/messages/\(messageId)")["content"] == "edited")
    }

    @Test func userDialogsCarryUnreadCountsLastMessageAndTheDialogIDFilter() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        let quiet = try await fixture.createDialog(["alice", "bob"])
        let busy = try await fixture.createDialog(["alice", "bob"])
        _ = try await fixture.sendMessage(busy, from: "alice", "hi")
        _ = try await fixture.sendMessage(busy, from: "alice", "there")

        let list = await fixture.call("GET", "/api/users/bob/dialogs")
        let items = try #require(list.json?["data"]?.arrayValue)
        #expect(items.map { $0["dialogId"]!.stringValue! } == [busy, quiet])
        #expect(items[0]["context"]?["unreadCount"] == 2)
        #expect(items[0]["membersCount"] == 2)
        #expect(items[0]["lastMessage"]?["content"] == "there")
        #expect(items[1]["lastMessage"] == nil)
        #expect(isSixDecimalTimestamp(items[0]["lastInteractionAt"]))

        let filtered = try await fixture.data("GET", "/api/users/bob/dialogs?filter=(dialogId,eq,\(quiet))&limit=1")
        #expect(filtered.arrayValue?.map { $0["dialogId"]!.stringValue! } == [quiet])
        #expect(try await fixture.data("GET", "/api/users/alice/dialogs")
            .arrayValue?.first?["context"]?["unreadCount"] == 0)

        let read = await fixture.call("POST", "/api/users/bob/dialogs/\(busy)/markAllRead")
        #expect(read.status == 200)
        #expect(read.json?["data"]?["processedMessageCount"] == 2)
        #expect(read.json?["data"]?["unreadCount"] == 0)
        #expect(try await fixture.data("GET", "/api/users/bob/dialogs?filter=(dialogId,eq,\(busy))")
            .arrayValue?.first?["context"]?["unreadCount"] == 0)
        #expect(try await fixture.data("GET", "/api/users/nobody/dialogs") == [])
    }

    @Test func userContextRoutesRefuseNonMembersWith403() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        let dialogId = try await fixture.createDialog(["alice", "bob"])
        let messageId = try await fixture.sendMessage(dialogId, from: "alice", "hi")
        let outsider = await fixture.call("GET", "/api/users/eve/dialogs/\(dialogId)/messages")
        #expect(outsider.status == 403)
        #expect(outsider.json == ["error": "Forbidden", "message": "User is not a member of this dialog"])
        let single = await fixture.call("GET", "/api/users/eve/dialogs/\(dialogId)/messages/\(messageId)")
        #expect(single.status == 403)

        let mine = try await fixture.data("GET", "/api/users/alice/dialogs/\(dialogId)/messages/\(messageId)")
        #expect(mine["context"]?["isMine"] == true)
        #expect(mine["context"]?["userId"] == "alice")
        let theirs = try await fixture.data("GET", "/api/users/bob/dialogs/\(dialogId)/messages")
        #expect(theirs.arrayValue?.first?["context"]?["isMine"] == false)
    }

    @Test func statusesAndReactionsFollowChat3sCodes() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        let dialogId = try await fixture.createDialog(["alice", "bob"])
        let messageId = try await fixture.sendMessage(dialogId, from: "alice", "hi")
        let base = "/api/users/bob/dialogs/\(dialogId)/messages/\(messageId)"

        let status = await fixture.call("POST", "\(base)/status/read")
        #expect(status.status == 200)
        #expect(status.json?["message"] == "Message status updated successfully")
        #expect(status.json?["data"]?["status"] == "read")
        #expect(status.json?["data"]?["createdAt"]?.doubleValue != nil)
        #expect(try await fixture.data("GET", "/api/users/bob/dialogs").arrayValue?.first?["context"]?["unreadCount"] == 0)
        #expect(await fixture.call("POST", "/api/users/eve/dialogs/\(dialogId)/messages/\(messageId)/status/read").status == 403)

        let set = await fixture.call("POST", "\(base)/reactions/set", ["reaction": "👍"])
        #expect(set.status == 201)
        #expect(set.json?["data"]?["reaction"]?["reaction"] == "👍")
        let again = await fixture.call("POST", "\(base)/reactions/set", ["reaction": "👍"])
        #expect(again.status == 200)
        #expect(again.json?["message"] == "Reaction already exists")
        let listed = try await fixture.data("GET", "\(base)/reactions")
        #expect(listed["reactions"]?.arrayValue?.count == 1)
        let message = try await fixture.data("GET", "/api/users/bob/dialogs/\(dialogId)/messages/\(messageId)")
        #expect(message["reactionSet"] == [["reaction": "👍", "count": 1, "me": true]])

        let unset = await fixture.call("POST", "\(base)/reactions/unset", ["reaction": "👍"])
        #expect(unset.status == 200)
        #expect(unset.json == ["data": [:], "message": "Reaction unset successfully"])
        #expect(await fixture.call("POST", "\(base)/reactions/unset", ["reaction": "👍"]).status == 404)
        let wrong = await fixture.call("POST", "\(base)/reactions/%F0%9F%91%8D", ["reaction": "👍"])
        #expect(wrong.status == 400)
        #expect(wrong.json?["message"] == "Action must be either \"set\" or \"unset\"")
    }

    @Test func membersAreAddedOnceRemovedIdempotentlyAndTypingIsAccepted() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        let dialogId = try await fixture.createDialog(["alice"])
        let added = await fixture.call("POST", "/api/dialogs/\(dialogId)/members/add", ["userId": "bob"])
        #expect(added.status == 201)
        #expect(added.json?["data"] == ["userId": "bob", "dialogId": .string(dialogId)])
        let existing = await fixture.call("POST", "/api/dialogs/\(dialogId)/members/add", ["userId": "bob"])
        #expect(existing.status == 200)
        #expect(existing.json?["message"] == "Member already exists in dialog")

        let typing = await fixture.call("POST", "/api/dialogs/\(dialogId)/member/bob/typing")
        #expect(typing.status == 202)
        #expect(typing.json == ["message": "Typing signal accepted",
                                "data": ["dialogId": .string(dialogId), "userId": "bob", "expiresInMs": 5000]])
        let stranger = await fixture.call("POST", "/api/dialogs/\(dialogId)/member/eve/typing")
        #expect(stranger.status == 404)
        #expect(stranger.json?["message"] == "User is not a member of this dialog")

        for _ in 0..<2 {
            let removed = await fixture.call("POST", "/api/dialogs/\(dialogId)/members/bob/remove")
            #expect(removed.status == 200)
            #expect(removed.json == ["message": "Member removed from dialog successfully"])
        }
        let deleted = await fixture.call("DELETE", "/api/dialogs/\(dialogId)")
        #expect(deleted.json == ["message": "Dialog deleted successfully"])
        #expect(await fixture.call("GET", "/api/dialogs/\(dialogId)").status == 404)
    }

    @Test func metaIsAFlatMapWithSetAndDelete() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        let dialogId = try await fixture.createDialog(["alice"])
        let put = await fixture.call("PUT", "/api/meta/dialog/\(dialogId)/topic", ["value": "news", "scope": "x"])
        #expect(put.status == 200)
        #expect(put.json?["message"] == "Meta set successfully")
        #expect(put.json?["data"]?["key"] == "topic")
        #expect(try await fixture.data("GET", "/api/meta/dialog/\(dialogId)") == ["topic": "news"])
        #expect(await fixture.call("DELETE", "/api/meta/dialog/\(dialogId)/topic").json ==
                ["message": "Meta deleted successfully"])
        #expect(try await fixture.data("GET", "/api/meta/dialog/\(dialogId)") == [:])
        #expect(await fixture.call("DELETE", "/api/meta/dialog/\(dialogId)/topic").status == 404)
        #expect(await fixture.call("GET", "/api/meta/dialog/dlg_aaaaaaaaaaaaaaaaaaaa").status == 404)
        // chatapp's getMeta(…, key) route does not exist in Chat3: Express's HTML 404.
        let keyed = await fixture.call("GET", "/api/meta/dialog/\(dialogId)/topic")
        #expect(keyed.status == 404)
        #expect(keyed.contentType?.hasPrefix("text/html") == true)
    }

    @Test func tenantsIsolateDataAndAreCreatedWithoutTheTenantHeader() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        #expect(await fixture.call("POST", "/api/tenants", ["tenantId": "tnt_x"], tenant: "tnt_default").status == 400)
        #expect(await fixture.call("POST", "/api/tenants", ["tenantId": "TNT_Other"]).status == 201)
        _ = try await fixture.createDialog(["alice"])
        let other = await fixture.call("GET", "/api/dialogs", tenant: "tnt_other")
        #expect(other.status == 200)
        #expect(other.json?["data"] == [])
    }

    @Test func unknownRoutesAndMalformedJSONGetExpressHTMLErrors() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        let unknown = await fixture.call("POST", "/api/users/carl/activity")
        #expect(unknown.status == 404)
        #expect(unknown.text.contains("<pre>Cannot POST /api/users/carl/activity</pre>"))
        let malformed = await fixture.sim.handle(SimRequest(
            method: "POST", path: "/api/dialogs", headers: ["X-API-Key": SimFixture.key, "Content-Type": "application/json"],
            body: Array("{nope".utf8)))
        #expect(malformed.status == 400)
        #expect(malformed.contentType?.hasPrefix("text/html") == true)
    }
}
