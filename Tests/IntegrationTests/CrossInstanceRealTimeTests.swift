import ChatCore
import Foundation
import Testing
import TestSupport

/// Two chatd instances on one broker and one store, as behind a load balancer: a dialog's members on
/// different instances see each other's typing and presence, relayed over chatd's events exchange.
/// Real chat3-sim (membership), real RabbitMQ, real python-socketio clients.
@Suite("Typing and presence across instances", .serialized)
struct CrossInstanceRealTimeTests {
    struct Cluster {
        let directory: TemporaryDirectory
        /// The environment both instances share (store, secret, Chat3, exchanges).
        let environment: [String: String]
        let east: ChatdProcess
        let west: ChatdProcess
    }

    /// Two instances, east and west, on one store, one broker and one chat3-sim, for `body`.
    /// `extraConfig` is appended to their config file, `extraEnvironment` added to both.
    static func withCluster(extraConfig: String = "", extraEnvironment: [String: String] = [:],
                            _ body: (Cluster) async throws -> Void) async throws {
        try await RabbitMQFixture.with { broker in
            let directory = try TemporaryDirectory("cross-instance")
            defer { directory.remove() }
            let updates = broker.name("updates")
            let sim = try await Chat3SimProcess.start(arguments: ["--exchange", updates],
                                                      logURL: directory.url.appendingPathComponent("sim.log"))
            defer { Task { await sim.service.stop() } }
            let configFile = directory.path("chatd.toml")
            try ("[rabbitmq]\nqueue_template = \"\(broker.name("{instance}_{userId}"))\"\nqueue_expires = \"1m\"\n" + extraConfig)
                .write(toFile: configFile, atomically: true, encoding: .utf8)
            let shared = extraEnvironment.merging([
                "CHATD_STORE": "sqlite://\(directory.path("users.sqlite"))", "CHATD_STATE_DIR": directory.url.path,
                "CHATD_CONFIG": configFile, "JWT_SECRET": String(repeating: "X", count: 40),
                "SMS_SENDER": "command", "SMS_COMMAND": "echo \"$SMS_PHONE $SMS_CODE\" >> '\(directory.path("sms.txt"))'",
                "CHAT3_API_URL": sim.apiURL, "CHAT3_API_KEY": sim.apiKey, "RABBITMQ_UPDATES_EXCHANGE": updates,
                "CHATD_EVENTS_EXCHANGE": broker.name("events"),
            ]) { $1 }
            var instances: [ChatdProcess] = []
            defer { for instance in instances { Task { await instance.service.stop() } } }
            for name in ["east", "west"] {
                instances.append(try await ChatdProcess.start(
                    environment: shared.merging(["CHATD_INSTANCE": name,
                                                 "CHATD_CONTROL_SOCKET": directory.path("\(name).sock")]) { $1 },
                    logURL: directory.url.appendingPathComponent("\(name).log")))
            }
            try await body(Cluster(directory: directory, environment: shared, east: instances[0], west: instances[1]))
        }
    }

    @Test("A on one instance and B on another: B's arrival and departure reach A, A's typing reaches B, once each")
    func typingAndPresenceCrossInstances() async throws {
        try await Self.withCluster { cluster in
            let (directory, east, west) = (cluster.directory, cluster.east, cluster.west)
            let alice = try await Self.login(east.baseURL, directory: directory, phone: "79002220001", name: "Alice")
            let bob = try await Self.login(west.baseURL, directory: directory, phone: "79002220002", name: "Bob")
            let created = try await HTTPTestClient.json("POST", "\(east.baseURL)/api/dialogs",
                                                         ["name": "A and B", "memberIds": [.string(bob.userId)]],
                                                         token: alice.token)
            #expect(created.status == 201, "\(created.text)")
            let dialogId = try #require(created.json?["data"]?["dialogId"]?.stringValue)

            let clientA = try ScriptedSocketClient(url: east.baseURL, token: alice.token)
            defer { Task { await clientA.stop() } }
            try await clientA.waitFor { $0["connected"] == true }
            clientA.emit("dialog:join", .string(dialogId), ack: true)
            let joinedA = try await clientA.waitFor { $0["ack"] == "dialog:join" }
            #expect(joinedA["data"]?["ok"] == true, "\(joinedA)")

            let clientB = try ScriptedSocketClient(url: west.baseURL, token: bob.token)
            defer { Task { await clientB.stop() } }
            try await clientB.waitFor { $0["connected"] == true }
            clientB.emit("dialog:join", .string(dialogId), ack: true)
            let joinedB = try await clientB.waitFor { $0["ack"] == "dialog:join" }
            #expect(joinedB["data"]?["ok"] == true, "\(joinedB)")
            let online = try await clientA.waitForEvent("user:online") { $0["userId"]?.stringValue == bob.userId }
            #expect(online["userName"] == "Bob")

            clientA.emit("typing:start", ["dialogId": .string(dialogId)], ack: true)
            let started = try await clientB.waitForEvent("typing:start") { $0["userId"]?.stringValue == alice.userId }
            #expect(started["dialogId"]?.stringValue == dialogId)
            #expect(started["userName"] == "Alice")
            let typing = try await clientB.waitForEvent("typing:update") { $0["userId"]?.stringValue == alice.userId }
            #expect(typing["expiresInMs"] == 5000)
            #expect(typing["userName"] == "Alice")
            clientA.emit("typing:stop", ["dialogId": .string(dialogId)], ack: true)
            _ = try await clientB.waitForEvent("typing:stop") { $0["userId"]?.stringValue == alice.userId }

            clientB.disconnect()
            _ = try await clientA.waitForEvent("user:offline") { $0["userId"]?.stringValue == bob.userId }
            // Relayed once: no instance echoes its own emits back, none relays a relayed one.
            try await Task.sleep(for: .milliseconds(500))
            #expect(clientA.events("user:online").count == 1, "\(clientA.events("user:online"))")
            #expect(clientA.events("user:offline").count == 1, "\(clientA.events("user:offline"))")
            #expect(clientB.events("typing:start").count == 1, "\(clientB.events("typing:start"))")
            #expect(clientA.events("typing:start").isEmpty, "the sender got its own typing back")
        }
    }

    @Test("across instances, without any join: Bob's first socket (west) reaches Alice (east) as user:online, a second socket on east adds nothing, closing west alone is no offline, closing the last is; Carol, sharing no dialog, hears nothing")
    func presenceToCoMembersAcrossInstances() async throws {
        try await Self.withCluster { cluster in
            let (directory, east, west) = (cluster.directory, cluster.east, cluster.west)
            let alice = try await Self.login(east.baseURL, directory: directory, phone: "79002220011", name: "Alice")
            let bob = try await Self.login(west.baseURL, directory: directory, phone: "79002220012", name: "Bob")
            let carol = try await Self.login(east.baseURL, directory: directory, phone: "79002220013", name: "Carol")
            let created = try await HTTPTestClient.json("POST", "\(west.baseURL)/api/dialogs",
                                                         ["name": "A and B", "memberIds": [.string(alice.userId)]],
                                                         token: bob.token)
            #expect(created.status == 201, "\(created.text)")

            let aliceOnEast = try ScriptedSocketClient(url: east.baseURL, token: alice.token, transports: "websocket")
            defer { Task { await aliceOnEast.stop() } }
            let carolOnEast = try ScriptedSocketClient(url: east.baseURL, token: carol.token, transports: "websocket")
            defer { Task { await carolOnEast.stop() } }
            let carolOnWest = try ScriptedSocketClient(url: west.baseURL, token: carol.token, transports: "websocket")
            defer { Task { await carolOnWest.stop() } }
            for client in [aliceOnEast, carolOnEast, carolOnWest] { try await client.waitFor { $0["connected"] == true } }

            let bobOnWest = try ScriptedSocketClient(url: west.baseURL, token: bob.token, transports: "websocket")
            defer { Task { await bobOnWest.stop() } }
            try await bobOnWest.waitFor { $0["connected"] == true }
            let online = try await aliceOnEast.waitForEvent("user:online") { $0["userId"]?.stringValue == bob.userId }
            #expect(online["userName"] == "Bob")

            let bobOnEast = try ScriptedSocketClient(url: east.baseURL, token: bob.token, transports: "websocket")
            defer { Task { await bobOnEast.stop() } }
            try await bobOnEast.waitFor { $0["connected"] == true }
            bobOnWest.disconnect()
            _ = try await bobOnWest.waitFor { $0["disconnected"] == true }
            // West's notice that Bob left it must not read as "offline": he is still on east.
            try await Task.sleep(for: .milliseconds(1500))
            #expect(aliceOnEast.events("user:offline").isEmpty, "\(aliceOnEast.events("user:offline"))")
            #expect(aliceOnEast.events("user:online").count == 1, "\(aliceOnEast.events("user:online"))")

            bobOnEast.disconnect()
            let offline = try await aliceOnEast.waitForEvent("user:offline") { $0["userId"]?.stringValue == bob.userId }
            #expect(offline == ["userId": .string(bob.userId)])
            try await Task.sleep(for: .milliseconds(700))
            #expect(aliceOnEast.events("user:offline").count == 1, "\(aliceOnEast.events("user:offline"))")
            for client in [carolOnEast, carolOnWest] {
                #expect(client.events("user:online").isEmpty, "\(client.events("user:online"))")
                #expect(client.events("user:offline").isEmpty, "\(client.events("user:offline"))")
            }
        }
    }

    @Test("an instance killed without a clean stop: within realtime.instance_timeout its users are offline to their co-members on the other, unless they are still online there; while both live, no one is")
    func deadInstanceUsersGoOffline() async throws {
        try await Self.withCluster(extraConfig: "[realtime]\ninstance_timeout = \"3s\"\n") { cluster in
            let (directory, east, west) = (cluster.directory, cluster.east, cluster.west)
            let alice = try await Self.login(east.baseURL, directory: directory, phone: "79002220031", name: "Alice")
            let bob = try await Self.login(west.baseURL, directory: directory, phone: "79002220032", name: "Bob")
            let dan = try await Self.login(west.baseURL, directory: directory, phone: "79002220033", name: "Dan")
            let created = try await HTTPTestClient.json("POST", "\(east.baseURL)/api/dialogs",
                                                         ["name": "Three", "memberIds": [.string(bob.userId), .string(dan.userId)]],
                                                         token: alice.token)
            #expect(created.status == 201, "\(created.text)")

            let aliceOnEast = try ScriptedSocketClient(url: east.baseURL, token: alice.token, transports: "websocket")
            defer { Task { await aliceOnEast.stop() } }
            try await aliceOnEast.waitFor { $0["connected"] == true }
            // Bob only on west; Dan on west and on east.
            let bobOnWest = try ScriptedSocketClient(url: west.baseURL, token: bob.token, transports: "websocket")
            defer { Task { await bobOnWest.stop() } }
            let danOnWest = try ScriptedSocketClient(url: west.baseURL, token: dan.token, transports: "websocket")
            defer { Task { await danOnWest.stop() } }
            for client in [bobOnWest, danOnWest] { try await client.waitFor { $0["connected"] == true } }
            for user in [bob.userId, dan.userId] {
                _ = try await aliceOnEast.waitForEvent("user:online") { $0["userId"]?.stringValue == user }
            }
            let danOnEast = try ScriptedSocketClient(url: east.baseURL, token: dan.token, transports: "websocket")
            defer { Task { await danOnEast.stop() } }
            try await danOnEast.waitFor { $0["connected"] == true }

            // Both alive for more than twice the timeout: the beats keep west counted as alive.
            try await Task.sleep(for: .seconds(7))
            #expect(aliceOnEast.events("user:offline").isEmpty, "\(aliceOnEast.events("user:offline"))")

            #expect(await west.service.stop(signal: SIGKILL) != 0)
            let killed = Date()
            let offline = try await aliceOnEast.waitForEvent("user:offline", timeout: 20) { $0["userId"]?.stringValue == bob.userId }
            #expect(offline == ["userId": .string(bob.userId)])
            let after = Date().timeIntervalSince(killed)
            // The timeout plus a beat, and room for a loaded machine; before, never.
            #expect(after < 3 + 7, "user:offline \(after) s after the kill")
            #expect(east.service.log.contains("another chatd instance went silent"), "\(east.service.log)")
            // Dan is still on east: no offline for him.
            try await Task.sleep(for: .seconds(1))
            #expect(!aliceOnEast.events("user:offline").contains { $0["userId"]?.stringValue == dan.userId },
                    "\(aliceOnEast.events("user:offline"))")
            #expect(aliceOnEast.events("user:offline").count == 1, "\(aliceOnEast.events("user:offline"))")
        }
    }

    @Test("chatctl user disable through one instance's control socket closes the user's sockets on the other too")
    func kickReachesEveryInstance() async throws {
        try await Self.withCluster { cluster in
            let carol = try await Self.login(cluster.west.baseURL, directory: cluster.directory, phone: "79002220003",
                                             name: "Carol")
            let onWest = try ScriptedSocketClient(url: cluster.west.baseURL, token: carol.token, transports: "websocket")
            defer { Task { await onWest.stop() } }
            try await onWest.waitFor { $0["connected"] == true }
            // chatctl talks to east only; Carol has no socket there.
            let disabled = try await runCommand(ChatBinaries.path("chatctl"), ["user", "disable", carol.userId],
                                                environment: cluster.environment.merging(
                                                    ["CHATD_CONTROL_SOCKET": cluster.directory.path("east.sock")]) { $1 })
            #expect(disabled.status == 0, "\(disabled.stderr)")
            _ = try await onWest.waitFor(timeout: 10) { $0["disconnected"] == true }
            let me = try await HTTPTestClient.json("GET", "\(cluster.west.baseURL)/api/auth/me", nil, token: carol.token)
            #expect(me.status == 401 || me.status == 403, "\(me.text)")
        }
    }

    /// request-code, then verify-code with the code the SMS command wrote down.
    static func login(_ baseURL: String, directory: TemporaryDirectory, phone: String, name: String) async throws
        -> (token: String, userId: String) {
        let requested = try await HTTPTestClient.json("POST", "\(baseURL)/api/auth/request-code",
                                                       ["phone": .string(phone), "name": .string(name)])
        #expect(requested.status == 200, "\(requested.text)")
        let sent = (try? String(contentsOfFile: directory.path("sms.txt"), encoding: .utf8)) ?? ""
        let code = try #require(sent.split(separator: "\n").last { $0.hasPrefix(phone + " ") }?.split(separator: " ").last)
        let verified = try await HTTPTestClient.json("POST", "\(baseURL)/api/auth/verify-code",
                                                      ["phone": .string(phone), "code": .string(String(code))])
        #expect(verified.status == 200, "\(verified.text)")
        return (try #require(verified.json?["token"]?.stringValue),
                try #require(verified.json?["user"]?["userId"]?.stringValue))
    }
}
