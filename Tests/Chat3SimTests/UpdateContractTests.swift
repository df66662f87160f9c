import ChatCore
import Testing
@testable import Chat3Sim

@Suite struct UpdateContractTests {
    @Test func creatingADialogPublishesMemberAddsBeforeDialogCreateToEveryMember() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        let dialogId = try await fixture.createDialog(["alice", "bob"])
        let updates = await fixture.takeUpdates()
        #expect(updates.map(\.sourceEventType) == ["dialog.member.add", "dialog.member.add", "dialog.member.add",
                                                   "dialog.member.add", "dialog.create", "dialog.create"])
        #expect(updates.map(\.recipient) == ["alice", "bob", "alice", "bob", "alice", "bob"])
        #expect(updates.map(\.routingKey).allSatisfy { $0.hasPrefix("update.dialog.user.") && $0.hasSuffix(".dialog") })
        #expect(updates[0].routingKey == "update.dialog.user.alice.dialog")
        #expect(updates.allSatisfy { $0.body["data"]?["context"]?["dialogId"]?.stringValue == dialogId })
        #expect(updates[2].body["data"]?["member"]?["userId"] == "bob")
        // One event, one eventId: the two adds and the create are three events.
        #expect(Set(updates.map { $0.body["eventId"]!.stringValue! }).count == 3)
        #expect(updates[0].exchange == "chat3_updates")
    }

    @Test func aMessageUpdateReachesEveryMemberIncludingTheSender() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        _ = await fixture.call("POST", "/api/users", ["userId": "bob", "type": "bot"])
        let dialogId = try await fixture.createDialog(["alice", "bob"])
        _ = await fixture.takeUpdates()
        let messageId = try await fixture.sendMessage(dialogId, from: "alice", "hello")
        let updates = await fixture.takeUpdates()
        #expect(updates.map(\.routingKey) == ["update.dialog.user.alice.message", "update.dialog.bot.bob.message"])
        let body = updates[1].body
        #expect(Set(body.objectValue!.keys) == ["tenantId", "userId", "entityId", "eventId", "sourceEventType",
                                                "updateType", "data", "published", "createdAt"])
        #expect(body["tenantId"] == "tnt_default")
        #expect(body["userId"] == "bob")
        #expect(body["entityId"]?.stringValue == messageId)
        #expect(body["sourceEventType"] == "message.create")
        #expect(body["updateType"] == "update.message")
        #expect(body["published"] == false)
        #expect(isSixDecimalTimestamp(body["createdAt"]))
        let eventId = try #require(body["eventId"]?.stringValue)
        #expect(eventId.hasPrefix("evt_") && eventId.count == 36 && eventId.dropFirst(4).allSatisfy(\.isHexDigit))
        #expect(updates[0].body["eventId"]?.stringValue == eventId)
        let context = try #require(body["data"]?["context"])
        #expect(context["version"] == 4)
        #expect(context["uiTarget"] == "messages.list")
        #expect(context["dialogId"]?.stringValue == dialogId)
        #expect(context["messageId"]?.stringValue == messageId)
        #expect(context["includedSections"] == ["dialog", "message"])
        #expect(context["updatedFields"] == ["message"])
        #expect(body["data"]?["message"]?["content"] == "hello")
        #expect(body["data"]?["message"]?["createdAt"] == nil)
        #expect(body["data"]?["dialog"]?["stats"]?["unreadCount"] == 1)
        #expect(updates[1].headers == ["userId": "bob", "entityId": messageId, "updateType": "update.message",
                                       "sourceEventType": "message.create"])
    }

    @Test func typingGoesToEveryoneButTheTypist() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        let dialogId = try await fixture.createDialog(["alice", "bob", "carl"])
        _ = await fixture.takeUpdates()
        _ = await fixture.call("POST", "/api/dialogs/\(dialogId)/member/bob/typing")
        let updates = await fixture.takeUpdates()
        #expect(updates.map(\.recipient) == ["alice", "carl"])
        #expect(updates.allSatisfy { $0.sourceEventType == "dialog.typing" && $0.routingKey.hasSuffix(".dialog") })
        #expect(updates[0].body["data"]?["typing"]?["userId"] == "bob")
        #expect(updates[0].body["data"]?["typing"]?["expiresInMs"] == 5000)
        #expect(updates[0].body["data"]?["context"]?["uiTarget"] == "messages.list")
    }

    @Test func removingAMemberAlsoTellsTheRemovedUser() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        let dialogId = try await fixture.createDialog(["alice", "bob"])
        _ = await fixture.takeUpdates()
        _ = await fixture.call("POST", "/api/dialogs/\(dialogId)/members/bob/remove")
        let updates = await fixture.takeUpdates()
        #expect(updates.map(\.recipient) == ["alice", "bob"])
        #expect(updates.allSatisfy { $0.sourceEventType == "dialog.member.remove" })
        #expect(updates[1].body["data"]?["member"]?["userId"] == "bob")
        // Idempotent remove of a non-member publishes nothing.
        _ = await fixture.call("POST", "/api/dialogs/\(dialogId)/members/bob/remove")
        #expect(await fixture.takeUpdates().isEmpty)
    }

    @Test func deletingADialogPublishesNothing() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        let dialogId = try await fixture.createDialog(["alice", "bob"])
        _ = await fixture.takeUpdates()
        _ = await fixture.call("DELETE", "/api/dialogs/\(dialogId)")
        #expect(await fixture.takeUpdates().isEmpty)
    }

    @Test func statusAndReactionChangesReachAllMembersWithTheirDeltas() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        let dialogId = try await fixture.createDialog(["alice", "bob"])
        let messageId = try await fixture.sendMessage(dialogId, from: "alice", "hi")
        _ = await fixture.takeUpdates()
        let base = "/api/users/bob/dialogs/\(dialogId)/messages/\(messageId)"
        _ = await fixture.call("POST", "\(base)/status/read")
        let status = await fixture.takeUpdates()
        #expect(status.map(\.recipient) == ["alice", "bob"])
        #expect(status[0].sourceEventType == "message.status.changed")
        #expect(status[0].body["data"]?["message"]?["statusUpdate"] == ["userId": "bob", "status": "read",
                                                                         "oldStatus": "unread"])
        #expect(status[0].body["data"]?["context"]?["updatedFields"] == ["message.status"])

        _ = await fixture.call("POST", "\(base)/reactions/set", ["reaction": "🔥"])
        let reaction = await fixture.takeUpdates()
        #expect(reaction.map(\.recipient) == ["alice", "bob"])
        #expect(reaction[0].sourceEventType == "message.reaction.changed")
        #expect(reaction[0].body["data"]?["message"]?["reactionUpdate"] == [
            "userId": "bob", "reaction": "🔥", "reactionSet": [["reaction": "🔥", "count": 1, "me": true]],
        ])
    }

    @Test func markAllReadTellsOnlyThatMember() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        let dialogId = try await fixture.createDialog(["alice", "bob"])
        _ = try await fixture.sendMessage(dialogId, from: "alice", "hi")
        _ = await fixture.takeUpdates()
        _ = await fixture.call("POST", "/api/users/bob/dialogs/\(dialogId)/markAllRead")
        let updates = await fixture.takeUpdates()
        #expect(updates.map(\.recipient) == ["bob"])
        #expect(updates[0].sourceEventType == "dialog.member.changed")
        #expect(updates[0].body["data"]?["member"]?["state"]?["unreadCount"] == 0)
    }

    @Test func userWritesPublishUserUpdatesOnTheUserCategoryKey() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        _ = await fixture.call("POST", "/api/users", ["userId": "carl", "type": "agent"])
        let updates = await fixture.takeUpdates()
        #expect(updates.map(\.routingKey) == ["update.user.agent.carl.user"])
        #expect(updates[0].body["updateType"] == "update.user")
        #expect(updates[0].body["data"]?["user"] == ["userId": "carl", "type": "agent", "meta": [:]])
        #expect(updates[0].body["data"]?["context"]?["uiTarget"] == "users.list")
    }

    @Test func counterUpdatesFollowTheMessageWhenEnabled() async throws {
        let fixture = try await SimFixture(counterUpdates: true)
        defer { Task { await fixture.stop() } }
        let dialogId = try await fixture.createDialog(["alice", "bob"])
        _ = await fixture.takeUpdates()
        _ = try await fixture.sendMessage(dialogId, from: "alice", "hi")
        let updates = await fixture.takeUpdates()
        #expect(updates.map(\.routingKey) == [
            "update.dialog.user.alice.message", "update.dialog.user.bob.message", "update.dialog.user.bob.dialog",
            "update.user.user.alice.user", "update.user.user.bob.user",
        ])
        #expect(Set(updates.map { $0.body["eventId"]!.stringValue! }).count == 1)
        #expect(updates[2].body["data"]?["dialog"]?["stats"]?["unreadCount"] == 1)
        #expect(updates[4].body["entityId"] == "bob")
        #expect(updates[4].body["data"]?["user"]?["stats"]?["totalUnreadCount"] == 1)
    }

    @Test func legacyUpdatesUseSeedEraKeysAndPayloads() async throws {
        let fixture = try await SimFixture(generation: .legacy)
        defer { Task { await fixture.stop() } }
        let dialogId = try await fixture.createDialog(["alice", "bob"])
        let created = await fixture.takeUpdates()
        #expect(created.map(\.routingKey) == [
            "user.alice.dialogmemberupdate", "user.bob.dialogmemberupdate", "user.alice.dialogmemberupdate",
            "user.bob.dialogmemberupdate", "user.alice.dialogupdate", "user.bob.dialogupdate",
        ])
        let messageId = try await fixture.sendMessage(dialogId, from: "alice", "hello")
        let updates = await fixture.takeUpdates()
        #expect(updates.map(\.routingKey) == ["user.alice.messageupdate", "user.bob.messageupdate"])
        let body = updates[1].body
        #expect(body["eventType"] == "message.create")
        #expect(body["dialogId"]?.stringValue == dialogId)
        #expect(body["entityId"]?.stringValue == messageId)
        #expect(body["userId"] == "bob")
        #expect(body["sourceEventType"] == nil)
        #expect(body["updateType"] == nil)
        #expect(body["data"]?["message"]?["content"] == "hello")
        #expect(body["data"]?["context"]?["eventType"] == "message.create")
        #expect(body["data"]?["context"]?["dialogId"]?.stringValue == dialogId)

        _ = try await fixture.data("PUT", "/api/messages/\(messageId)", ["content": "edited"])
        #expect(await fixture.takeUpdates().first?.body["eventType"] == "message.update")
        _ = await fixture.call("POST", "/api/dialogs/\(dialogId)/member/alice/typing")
        #expect(await fixture.takeUpdates().map(\.routingKey) == ["user.bob.typingupdate"])
    }

    @Test func updatesArePublishedOnlyAfterTheConfiguredDelay() async throws {
        let recorder = RecordingUpdatePublisher()
        let sim = Chat3Simulator(configuration: Chat3SimConfiguration(apiKey: "k", publishDelay: .milliseconds(300)),
                                 publisher: recorder)
        try await sim.start()
        let response = await sim.handle(SimRequest("POST", "/api/users", apiKey: "k", json: ["userId": "carl"]))
        #expect(response.status == 201)
        #expect(await recorder.published.isEmpty)
        await sim.flushUpdates()
        #expect(await recorder.published.count == 1)
        #expect(await recorder.declaredExchanges == ["chat3_updates"])
        await sim.shutdown()
    }
}
