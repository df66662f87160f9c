import ChatCore
import Foundation
import Testing
import TestSupport

/// The seed's whole message lifecycle, end to end: real RabbitMQ, chat3-sim, chatd, and two real
/// python-socketio clients. Runs once per Chat3 update generation.
@Suite("Message lifecycle end to end", .serialized)
struct MessageLifecycleTests {
    enum Generation: String, CaseIterable, Sendable { case current, legacy }

    struct Stack {
        let directory: TemporaryDirectory
        let sim: Chat3SimProcess
        let chatd: ChatdProcess

        func codeSent(to phone: String) throws -> String? {
            let text = (try? String(contentsOfFile: directory.path("sms.txt"), encoding: .utf8)) ?? ""
            return text.split(separator: "\n").last { $0.hasPrefix(phone + " ") }.map { String($0.split(separator: " ")[1]) }
        }

        /// request-code, then verify-code with the code the SMS command received.
        func login(phone: String, name: String) async throws -> (token: String, userId: String) {
            let requested = try await HTTPTestClient.json("POST", "\(chatd.baseURL)/api/auth/request-code",
                                                           ["phone": .string(phone), "name": .string(name)])
            #expect(requested.status == 200, "\(requested.text)")
            let code = try #require(try codeSent(to: phone))
            let verified = try await HTTPTestClient.json("POST", "\(chatd.baseURL)/api/auth/verify-code",
                                                          ["phone": .string(phone), "code": .string(code)])
            #expect(verified.status == 200, "\(verified.text)")
            return (try #require(verified.json?["token"]?.stringValue), try #require(verified.json?["user"]?["userId"]?.stringValue))
        }

        func stop() async {
            await chatd.service.stop()
            await sim.service.stop()
            directory.remove()
        }
    }

    static func start(_ generation: Generation) async throws -> Stack {
        let directory = try TemporaryDirectory("lifecycle")
        // A generous subscribe wait: the test then checks that a connected socket is always subscribed,
        // even when a loaded broker takes longer than the default 2 s cap.
        try "[rabbitmq]\nsubscribe_wait = \"30s\"\n".write(toFile: directory.path("chatd.toml"), atomically: true, encoding: .utf8)
        let exchange = "lifecycle_\(generation.rawValue)_\(UUID().uuidString.prefix(6).lowercased())"
        let sim = try await Chat3SimProcess.start(
            arguments: ["--exchange", exchange] + (generation == .legacy ? ["--legacy-updates"] : []),
            logURL: directory.url.appendingPathComponent("sim.log"))
        let chatd = try await ChatdProcess.start(environment: [
            "CHATD_STORE": "sqlite://\(directory.path("users.sqlite"))", "CHATD_STATE_DIR": directory.url.path,
            "CHATD_CONFIG": directory.path("chatd.toml"), "CHATD_CONTROL_SOCKET": directory.path("chatd.sock"),
            "JWT_SECRET": String(repeating: "L", count: 40),
            "SMS_SENDER": "command", "SMS_COMMAND": "echo \"$SMS_PHONE $SMS_CODE\" >> '\(directory.path("sms.txt"))'",
            "CHAT3_API_URL": sim.apiURL, "CHAT3_API_KEY": sim.apiKey, "RABBITMQ_UPDATES_EXCHANGE": exchange,
        ], logURL: directory.url.appendingPathComponent("chatd.log"))
        return Stack(directory: directory, sim: sim, chatd: chatd)
    }

    @Test("A and B log in, A creates a dialog and says Hello!, B reads it, A types, B leaves", arguments: Generation.allCases)
    func lifecycle(generation: Generation) async throws {
        let stack = try await Self.start(generation)
        defer { Task { await stack.stop() } }
        let base = stack.chatd.baseURL
        let alice = try await stack.login(phone: "79001110001", name: "Alice")
        let bob = try await stack.login(phone: "79001110002", name: "Bob")

        let clientA = try ScriptedSocketClient(url: base, token: alice.token)
        let clientB = try ScriptedSocketClient(url: base, token: bob.token)
        defer { Task { await clientA.stop(); await clientB.stop() } }
        try await clientA.waitFor { $0["connected"] == true }
        try await clientB.waitFor { $0["connected"] == true }

        // chatd answers a CONNECT only once the user's update queue is bound and consumed (Chat3 drops
        // updates nobody is bound for), so both subscriptions exist already, without waiting.
        let metrics = try await HTTPTestClient.send("GET", "\(base)/metrics").text
        #expect(metrics.contains("\nchatd_amqp_subscriptions 2.0\n"), "\(metrics)")
        let created = try await HTTPTestClient.json("POST", "\(base)/api/dialogs",
                                                     ["name": "A and B", "memberIds": [.string(bob.userId)]], token: alice.token)
        #expect(created.status == 201, "\(created.text)")
        let dialogId = try #require(created.json?["data"]?["dialogId"]?.stringValue)

        clientA.emit("dialog:join", .string(dialogId), ack: true)
        clientB.emit("dialog:join", .string(dialogId), ack: true)
        try await clientA.waitFor { $0["ack"] == "dialog:join" }
        try await clientB.waitFor { $0["ack"] == "dialog:join" }

        let sent = try await HTTPTestClient.json("POST", "\(base)/api/messages/dialog/\(dialogId)",
                                                  ["content": "Hello!", "type": "text"], token: alice.token)
        #expect(sent.status == 201, "\(sent.text)")

        let newMessage = try await clientB.waitForEvent("message:new") { $0["content"] == "Hello!" }
        let messageId = try #require(newMessage["messageId"]?.stringValue)
        try await clientB.waitForEvent("chat3:update") { $0["dialogId"]?.stringValue == dialogId }

        let read = try await HTTPTestClient.json("POST", "\(base)/api/messages/\(messageId)/status/read", nil, token: bob.token)
        #expect(read.status == 200, "\(read.text)")
        let update = try await clientA.waitForEvent("message:update") { $0["entityId"]?.stringValue == messageId }
        #expect(update.serialized().contains("read"))

        let typing = try await HTTPTestClient.json("POST", "\(base)/api/dialogs/\(dialogId)/typing", nil, token: alice.token)
        #expect((200..<300).contains(typing.status), "\(typing.text)")
        let typingUpdate = try await clientB.waitForEvent("typing:update") { $0["userId"]?.stringValue == alice.userId }
        #expect(typingUpdate["dialogId"]?.stringValue == dialogId)
        // Chat3 keeps no names; chatd fills in the typer's, so group chats do not show an id.
        #expect(typingUpdate["userName"] == "Alice", "\(typingUpdate)")

        clientB.disconnect()
        let offline = try await clientA.waitForEvent("user:offline") { $0["userId"]?.stringValue == bob.userId }
        #expect(offline["userId"]?.stringValue == bob.userId)
    }
}
