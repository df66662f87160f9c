import ChatCore
import Foundation
import Testing
import TestSupport

extension Chat3Stack {
    /// A user with a phone number the test chooses (chatctl), and a token for them.
    func user(_ name: String, phone: String) async throws -> Caller {
        let created = try await runCommand(ChatBinaries.path("chatctl"), ["user", "create", "--phone", phone, "--name", name, "--json"],
                                           environment: environment)
        let id = try #require(try JSONValue.parse(created.stdout)["userId"]?.stringValue, "\(created.stderr)")
        let minted = try await runCommand(ChatBinaries.path("chatctl"), ["token", "mint", "--user", id], environment: environment)
        #expect(minted.status == 0, "\(minted.stderr)")
        return Caller(id: id, token: minted.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Chat3 requests made while `body` ran.
    func chat3Requests(during body: () async throws -> Void) async throws -> [String] {
        let before = try await simRequests()
        try await body()
        return Array(try await simRequests().dropFirst(before.count))
    }
}

/// The routes the seed's web frontend calls besides the core API (chatapp `frontend/src/services/api.ts`),
/// with our envelope and rules: real chatd, real chat3-sim, users from the real chatctl.
@Suite("The seed frontend's REST routes", .serialized)
struct FrontendRoutesTests {
    @Test("/api/dialog/:id/messages reads and sends like /api/messages/dialog/:id: members only (404 otherwise, nothing written), 400 for bad input, the fields the frontend reads")
    func dialogMessagesAlias() async throws {
        let stack = try await Chat3Stack.start()
        let ann = try await stack.user("Ann"), bob = try await stack.user("Bob"), cid = try await stack.user("Cid")
        let created = try await stack.call("POST", "/api/dialogs", ["name": "Pair", "memberIds": [.string(bob.id)]], as: ann)
        let dialog = try #require(created.json?["data"]?["dialogId"]?.stringValue)

        let sent = try await stack.call("POST", "/api/dialog/\(dialog)/messages", ["content": "hello from the frontend"], as: bob)
        #expect(sent.status == 201, "\(sent.text)")
        #expect(sent.json?["success"] == true)
        let message = try #require(sent.json?["data"]?["messageId"]?.stringValue)
        #expect(sent.json?["data"]?["senderId"] == .string(bob.id))
        #expect(sent.json?["data"]?["dialogId"] == .string(dialog))
        #expect(sent.json?["data"]?["content"] == "hello from the frontend")
        #expect(sent.json?["data"]?["type"] == "internal.text")

        // Both paths show the same list, in the fields the frontend reads.
        let viaAlias = try await stack.call("GET", "/api/dialog/\(dialog)/messages?page=1&limit=50", as: ann)
        let viaCore = try await stack.call("GET", "/api/messages/dialog/\(dialog)?page=1&limit=50", as: ann)
        #expect(viaAlias.status == 200, "\(viaAlias.text)")
        let first = try #require(viaAlias.json?["data"]?.arrayValue?.first)
        #expect(first["messageId"] == .string(message))
        #expect(first["senderId"] == .string(bob.id))
        #expect(first["content"] == "hello from the frontend")
        #expect(first["createdAt"] != nil)
        #expect(viaAlias.json?["pagination"]?["total"] == 1)
        #expect(viaAlias.json?["pagination"]?["page"] == 1)
        #expect(viaAlias.json?["data"]?.arrayValue?.map { $0["messageId"] } == viaCore.json?["data"]?.arrayValue?.map { $0["messageId"] })

        // An outsider learns nothing and writes nothing.
        let outsider = try await stack.chat3Requests {
            let read = try await stack.call("GET", "/api/dialog/\(dialog)/messages", as: cid)
            #expect(read.status == 404, "\(read.text)")
            #expect(read.json?["code"] == "not_found")
            let write = try await stack.call("POST", "/api/dialog/\(dialog)/messages", ["content": "let me in"], as: cid)
            #expect(write.status == 404, "\(write.text)")
        }
        #expect(outsider.allSatisfy { $0.hasPrefix("GET ") }, "\(outsider)")
        #expect(try await stack.call("GET", "/api/dialog/\(dialog)/messages", as: nil).status == 401)

        // The same validation, before any Chat3 call.
        let refused = try await stack.chat3Requests {
            for (method, path, body) in [
                ("POST", "/api/dialog/\(dialog)/messages", ["content": ""] as JSONValue?),
                ("POST", "/api/dialog/\(dialog)/messages", ["content": .string(String(repeating: "a", count: 4097))]),
                ("POST", "/api/dialog/\(dialog)/messages", ["content": "pic", "type": "image"]),
                ("POST", "/api/dialog/\(dialog)/messages", ["content": "hi", "type": "video"]),
                ("GET", "/api/dialog/\(dialog)/messages?limit=0", nil),
                ("GET", "/api/dialog/dlg_BAD/messages", nil),
            ] {
                let response = try await stack.call(method, path, body, as: ann)
                #expect(response.status == 400, "\(method) \(path): \(response.text)")
                #expect(response.json?["code"] == "bad_request")
            }
        }
        #expect(refused.isEmpty, "\(refused)")
        let after = try await stack.call("GET", "/api/messages/dialog/\(dialog)", as: ann)
        #expect(after.json?["pagination"]?["total"] == 1, "nothing refused was stored: \(after.text)")
        await stack.stop()
    }

    @Test("searches by exact phone past auth.phone_search_hourly_limit get 429 rate_limited with Retry-After, counted per caller; name searches and other callers are served")
    func phoneSearchLimit() async throws {
        let stack = try await Chat3Stack.start(extraConfig: "[auth]\nphone_search_hourly_limit = 3\n")
        let ann = try await stack.user("Ann Phone", phone: "79001120001")
        let bob = try await stack.user("Bob Prober", phone: "79001120002")
        let cid = try await stack.user("Cid", phone: "79001120003")
        try await HourWindow.awaitRoom(seconds: 120)
        // Found or not, each search by number counts.
        for number in ["79001120001", "79001129998", "79001129999"] {
            let allowed = try await stack.call("GET", "/api/users?search=\(number)", as: bob)
            #expect(allowed.status == 200, "\(allowed.text)")
        }
        let refused = try await stack.call("GET", "/api/users?search=79001120003", as: bob)
        #expect(refused.status == 429, "\(refused.text)")
        #expect(refused.json?["code"] == "rate_limited")
        let retryAfter = try #require(refused.header("Retry-After").flatMap { Int($0) })
        #expect(retryAfter > 0 && retryAfter <= 3600)
        #expect(refused.json?["data"] == nil, "a refusal shows nobody: \(refused.text)")
        let byName = try await stack.call("GET", "/api/users?search=Ann%20Phone", as: bob)
        #expect(byName.status == 200)
        #expect(byName.json?["data"]?.arrayValue?.first?["userId"] == .string(ann.id))
        let other = try await stack.call("GET", "/api/users?search=79001120001", as: cid)
        #expect(other.status == 200)
        #expect(other.json?["data"]?.arrayValue?.first?["userId"] == .string(ann.id))
        let metrics = try await HTTPTestClient.send("GET", "\(stack.chatd.baseURL)/metrics").text
        #expect(LimitsTests.hits("phone_search", inMetrics: metrics) == 1)
        await stack.stop()
    }

    @Test("GET /api/users finds active users by part of their name or by exact phone, shows userId and name only, never the caller, never a phone number")
    func userSearch() async throws {
        let stack = try await Chat3Stack.start()
        let anna = try await stack.user("Анна Петрова", phone: "79001110001")
        let annie = try await stack.user("Annie Hall", phone: "79001110002")
        let joann = try await stack.user("Joann", phone: "79001110003")
        let gone = try await stack.user("Anne Gone", phone: "79001110004")
        let bob = try await stack.user("Bob", phone: "79001110005")
        try await stack.disable(gone)

        let byName = try await stack.call("GET", "/api/users?search=ANN", as: bob)
        #expect(byName.status == 200, "\(byName.text)")
        let found = try #require(byName.json?["data"]?.arrayValue)
        #expect(Set(found.compactMap { $0["userId"]?.stringValue }) == [annie.id, joann.id])
        for item in found {
            #expect(Set(item.objectValue?.keys.map { $0 } ?? []) == ["userId", "name", "isBot"], "\(item)")
        }
        #expect(found.contains { $0["name"] == "Annie Hall" })
        #expect(byName.json?["pagination"]?["total"] == 2)
        #expect(!byName.text.contains("7900111"), "a phone number leaked: \(byName.text)")

        // Cyrillic folds too; the caller never finds itself.
        let cyrillic = try await stack.call("GET", "/api/users?search=%D0%B0%D0%BD%D0%BD%D0%B0", as: bob)
        #expect(cyrillic.json?["data"]?.arrayValue?.compactMap { $0["userId"]?.stringValue } == [anna.id], "\(cyrillic.text)")
        let own = try await stack.call("GET", "/api/users?search=annie", as: annie)
        #expect(own.json?["data"] == [], "\(own.text)")

        // By phone, in any usual spelling: exactly that user, still without the number.
        let byPhone = try await stack.call("GET", "/api/users?search=%2B7%20(900)%20111-00-01", as: bob)
        #expect(byPhone.json?["data"]?.arrayValue?.compactMap { $0["userId"]?.stringValue } == [anna.id], "\(byPhone.text)")
        #expect(!byPhone.text.contains("79001110001"))
        let disabledPhone = try await stack.call("GET", "/api/users?search=79001110004", as: bob)
        #expect(disabledPhone.json?["data"] == [], "a disabled user was found: \(disabledPhone.text)")

        // Paging over the matches.
        let paged = try await stack.call("GET", "/api/users?search=ann&limit=1&page=2", as: bob)
        #expect(paged.json?["data"]?.arrayValue?.count == 1)
        #expect(paged.json?["pagination"] == ["page": 2, "limit": 1, "total": 2, "pages": 2])

        // Nothing typed finds nobody: no directory of all users.
        let empty = try await stack.call("GET", "/api/users", as: bob)
        #expect(empty.status == 200)
        #expect(empty.json?["data"] == [])
        for path in ["/api/users?search=a", "/api/users?search=" + String(repeating: "n", count: 101),
                     "/api/users?search=ann&limit=0", "/api/users?search=ann&page=x"] {
            let response = try await stack.call("GET", path, as: bob)
            #expect(response.status == 400, "\(path): \(response.text)")
            #expect(response.json?["code"] == "bad_request")
        }
        #expect(try await stack.call("GET", "/api/users?search=ann", as: nil).status == 401)
        #expect(try await stack.call("GET", "/api/users?search=ann", as: gone).status == 401)
        await stack.stop()
    }

    @Test("GET /api/users/me answers the caller's own profile with phone and ISO timestamps; 401 without a valid token")
    func ownProfile() async throws {
        let stack = try await Chat3Stack.start()
        let ann = try await stack.user("Ann Example", phone: "79001112233")
        let me = try await stack.call("GET", "/api/users/me", as: ann)
        #expect(me.status == 200, "\(me.text)")
        let data = try #require(me.json?["data"])
        #expect(data["userId"] == .string(ann.id))
        #expect(data["name"] == "Ann Example")
        #expect(data["phone"] == "79001112233")
        let createdAt = try #require(data["createdAt"]?.stringValue)
        #expect(try Date(createdAt, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) <= Date())
        #expect(data.objectValue?.keys.contains("lastActiveAt") == true)
        #expect(try await stack.call("GET", "/api/users/me", as: nil).status == 401)
        let forged = Chat3Stack.Caller(id: ann.id, token: ann.token + "x")
        #expect(try await stack.call("GET", "/api/users/me", as: forged).json?["code"] == "unauthorized")
        await stack.stop()
    }

    @Test("PATCH /api/dialogs/:id/unread sets the caller's counter in Chat3 (no body = all read); non-members 404 with nothing written; bad values 400")
    func markUnread() async throws {
        let stack = try await Chat3Stack.start()
        let ann = try await stack.user("Ann"), bob = try await stack.user("Bob"), cid = try await stack.user("Cid")
        let created = try await stack.call("POST", "/api/dialogs", ["name": "Unread", "memberIds": [.string(bob.id)]], as: ann)
        let dialog = try #require(created.json?["data"]?["dialogId"]?.stringValue)
        for text in ["one", "two", "three"] {
            #expect(try await stack.call("POST", "/api/dialog/\(dialog)/messages", ["content": .string(text)], as: ann).status == 201)
        }
        #expect(try await stack.call("GET", "/api/dialogs/\(dialog)", as: bob).json?["data"]?["unreadCount"] == 3)

        let partly = try await stack.call("PATCH", "/api/dialogs/\(dialog)/unread", ["unreadCount": 1], as: bob)
        #expect(partly.status == 200, "\(partly.text)")
        #expect(partly.json?["data"]?["dialogId"] == .string(dialog))
        #expect(partly.json?["data"]?["unreadCount"] == 1)
        #expect(try await stack.call("GET", "/api/dialogs/\(dialog)", as: bob).json?["data"]?["unreadCount"] == 1)
        #expect(try await stack.simRequests().contains("PATCH /api/dialogs/\(dialog)/members/\(bob.id)/unread"))

        // The frontend's "mark read" sends no body.
        let all = try await HTTPTestClient.send("PATCH", stack.chatd.baseURL + "/api/dialogs/\(dialog)/unread",
                                                headers: ["Authorization": "Bearer \(bob.token)"])
        #expect(all.status == 200, "\(all.text)")
        #expect(all.json?["data"]?["unreadCount"] == 0)
        #expect(try await stack.call("GET", "/api/dialogs/\(dialog)", as: bob).json?["data"]?["unreadCount"] == 0)

        let outsider = try await stack.chat3Requests {
            let response = try await stack.call("PATCH", "/api/dialogs/\(dialog)/unread", ["unreadCount": 0], as: cid)
            #expect(response.status == 404, "\(response.text)")
            #expect(response.json?["code"] == "not_found")
        }
        #expect(outsider.allSatisfy { $0.hasPrefix("GET ") }, "\(outsider)")
        #expect(try await stack.call("PATCH", "/api/dialogs/\(dialog)/unread", ["unreadCount": 0], as: nil).status == 401)

        let refused = try await stack.chat3Requests {
            for (path, body) in [
                ("/api/dialogs/\(dialog)/unread", ["unreadCount": -1] as JSONValue),
                ("/api/dialogs/\(dialog)/unread", ["unreadCount": 1.5]),
                ("/api/dialogs/\(dialog)/unread", ["unreadCount": "0"]),
                ("/api/dialogs/\(dialog)/unread", ["lastSeenAt": "yesterday"]),
                ("/api/dialogs/\(dialog)/unread", ["reason": ""]),
                ("/api/dialogs/\(dialog)/unread", [1, 2]),
                ("/api/dialogs/dlg_BAD/unread", ["unreadCount": 0]),
            ] {
                let response = try await stack.call("PATCH", path, body, as: bob)
                #expect(response.status == 400, "\(path) \(body.serialized()): \(response.text)")
            }
        }
        #expect(refused.isEmpty, "\(refused)")
        // More unread than there are: Chat3 refuses, the caller gets our 400.
        let tooMany = try await stack.call("PATCH", "/api/dialogs/\(dialog)/unread", ["unreadCount": 5], as: bob)
        #expect(tooMany.status == 400, "\(tooMany.text)")
        #expect(tooMany.json?["code"] == "bad_request")
        await stack.stop()
    }
}
