import ChatCore
import Foundation
import Testing
import TestSupport

/// `user:online`/`user:offline` reach the people who share a dialog with the user, without any
/// `dialog:join`, and nobody else: real chatd, real chat3-sim for the dialog members, python-socketio.
@Suite("Presence to dialog co-members", .serialized)
struct PresenceTests {
    /// A connected python-socketio client that never joins a room.
    static func connect(_ url: String, _ caller: Chat3Stack.Caller, transports: String = "websocket") async throws
        -> ScriptedSocketClient {
        let client = try ScriptedSocketClient(url: url, token: caller.token, transports: transports)
        try await client.waitFor { $0["connected"] == true }
        return client
    }

    @Test("on one instance: a co-member who never joined hears of Bob's first socket and of his last one closing, once each; a user sharing no dialog hears nothing; the join ack still lists who is online")
    func coMembersWithoutJoin() async throws {
        let stack = try await Chat3Stack.start()
        let ann = try await stack.user("Ann"), bob = try await stack.user("Bob"), cid = try await stack.user("Cid")
        let created = try await stack.call("POST", "/api/dialogs", ["name": "Ann and Bob", "memberIds": [.string(bob.id)]], as: ann)
        let dialog = try #require(created.json?["data"]?["dialogId"]?.stringValue)
        let base = stack.chatd.baseURL

        let annClient = try await Self.connect(base, ann)
        let cidClient = try await Self.connect(base, cid, transports: "polling,websocket")
        let bobTab1 = try await Self.connect(base, bob)
        let online = try await annClient.waitForEvent("user:online") { $0["userId"]?.stringValue == bob.id }
        #expect(online == ["userId": .string(bob.id), "userName": "Bob"])
        let bobTab2 = try await Self.connect(base, bob, transports: "polling")

        // The join ack lists who in the room is online (this instance's watchers).
        annClient.emit("dialog:join", .string(dialog), ack: true)
        _ = try await annClient.waitFor { $0["ack"] == "dialog:join" }
        bobTab1.emit("dialog:join", .string(dialog), ack: true)
        let joined = try await bobTab1.waitFor { $0["ack"] == "dialog:join" }
        #expect(joined["data"] == ["ok": true, "online": [.string(ann.id)]], "\(joined)")

        bobTab1.disconnect()
        _ = try await bobTab1.waitFor { $0["disconnected"] == true }
        bobTab2.disconnect()
        let offline = try await annClient.waitForEvent("user:offline") { $0["userId"]?.stringValue == bob.id }
        #expect(offline == ["userId": .string(bob.id)])

        // Settle, then count: once each, and nothing for the stranger (who has sockets the whole time).
        try await Task.sleep(for: .milliseconds(700))
        #expect(annClient.events("user:online").count == 1, "\(annClient.events("user:online"))")
        #expect(annClient.events("user:offline").count == 1, "\(annClient.events("user:offline"))")
        #expect(cidClient.events("user:online").isEmpty, "\(cidClient.events("user:online"))")
        #expect(cidClient.events("user:offline").isEmpty, "\(cidClient.events("user:offline"))")
        // Cid's own arrival reached nobody either: he shares no dialog.
        #expect(!annClient.events("user:online").contains { $0["userId"]?.stringValue == cid.id })
        await annClient.stop()
        await cidClient.stop()
        await bobTab1.stop()
        await bobTab2.stop()
        await stack.stop()
    }
}
