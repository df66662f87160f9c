import ChatAMQP
import ChatCore
import Foundation
import Logging
import Testing
import TestSupport

/// SPEC §6 reliability with the real chatd binary, real RabbitMQ and WebSocket clients
/// (tools/testclients/sio_load.py): updates survive a broker restart, and several instances never split
/// or double a user's stream. Updates are published straight into the updates exchange, as Chat3 does.
@Suite("Update delivery reliability", .serialized)
struct DeliveryReliabilityTests {
    @Test("with 100 connected users, rabbitmqctl stop_app and start_app: every subscription comes back and every update published afterwards arrives once")
    func brokerRestart() async throws {
        // A node of the test's own: stopping the shared broker would break the suites running meanwhile.
        let node = try await PrivateRabbitMQ.start()
        let directory = try TemporaryDirectory("broker-restart")
        defer { directory.remove() }
        var chatd: ChatdProcess?
        do {
            let exchange = "chat3_updates_restart"
            let environment = DeliveryFixture.environment(directory, rabbitMQ: node.amqpURL, exchange: exchange)
            let users = try await DeliveryFixture.users(100, environment: environment)
            let running = try await ChatdProcess.start(environment: environment,
                                                       logURL: directory.url.appendingPathComponent("chatd.log"))
            chatd = running
            let clients = try DeliveryFixture.sockets(port: running.port, tokens: users.map(\.token), perToken: 1,
                                                      expect: 3, directory: directory, name: "load")
            _ = try await clients.waitForLine("CONNECTED 100", timeoutSeconds: 90)
            #expect(try await node.consumedQueues(prefix: "chatpapp_user_") == 100)

            try await node.stopApp()
            #expect(try await DeliveryFixture.rabbitMQCheck(running.baseURL, becomes: "down"), "\(running.service.log)")
            try await node.startApp()
            #expect(try await DeliveryFixture.rabbitMQCheck(running.baseURL, becomes: "up"), "\(running.service.log)")
            // The transient queues went with the stopped broker: chatd must declare, bind and consume each
            // again before anything published now can reach it.
            let deadline = Date().addingTimeInterval(60)
            var consumed = 0
            while Date() < deadline {
                consumed = try await node.consumedQueues(prefix: "chatpapp_user_")
                if consumed == 100 { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(consumed == 100, "\(running.service.log)")

            let publisher = AMQPPublisher(url: try AMQPURL(node.amqpURL), logger: DeliveryFixture.quietLogger)
            for round in 0..<3 {
                for user in users {
                    try await publisher.publish(exchange: exchange, routingKey: DeliveryFixture.routingKey(user.userId),
                                                body: DeliveryFixture.update(for: user.userId, sequence: round))
                }
            }
            await publisher.close()
            _ = try await clients.waitForLine("(RECEIVED 100|FAIL .*)", timeoutSeconds: 90)
            _ = try? await clients.waitForLine("EXTRA [0-9]+", timeoutSeconds: 15)
            await clients.stop()
            #expect(clients.log.contains("RECEIVED 100"), "\(clients.log)")
            #expect(clients.log.contains("DUPLICATES 0"), "\(clients.log)")
            #expect(clients.log.contains("EXTRA 0"), "\(clients.log)")
            #expect(await running.service.stop() == 0)
        } catch {
            if let chatd { Issue.record("chatd log:\n\(chatd.service.log)") }
            await node.stop()
            throw error
        }
        await node.stop()
    }

    @Test("one user on two chatd instances, two tabs on each: every socket gets every update exactly once")
    func twoInstancesExactlyOnce() async throws {
        try await RabbitMQFixture.with { broker in
            let directory = try TemporaryDirectory("two-instances")
            defer { directory.remove() }
            let exchange = broker.name("updates")
            // Each instance names its queues with {instance}: two consumers on one queue would split it.
            let configFile = directory.path("chatd.toml")
            try """
            [rabbitmq]
            queue_template = "\(broker.name("{instance}_{userId}"))"
            queue_expires = "1m"
            """.write(toFile: configFile, atomically: true, encoding: .utf8)
            var environment = DeliveryFixture.environment(directory, rabbitMQ: RabbitMQFixture.amqpURL, exchange: exchange)
            environment["CHATD_CONFIG"] = configFile
            let user = try #require(try await DeliveryFixture.users(1, environment: environment).first)
            var instances: [ChatdProcess] = []
            defer { for instance in instances { Task { await instance.service.stop() } } }
            for name in ["east", "west"] {
                var own = environment
                own["CHATD_INSTANCE"] = name
                own["CHATD_CONTROL_SOCKET"] = directory.path("\(name).sock")
                instances.append(try await ChatdProcess.start(environment: own,
                                                              logURL: directory.url.appendingPathComponent("\(name).log")))
            }
            let updates = 40
            var clients: [ServiceProcess] = []
            for (index, instance) in instances.enumerated() {
                let client = try DeliveryFixture.sockets(port: instance.port, tokens: [user.token], perToken: 2,
                                                         expect: updates, directory: directory, name: "tabs\(index)")
                _ = try await client.waitForLine("CONNECTED 2", timeoutSeconds: 30)
                clients.append(client)
            }
            // A CONNECT is answered at rabbitmq.subscribe_wait even when a loaded broker has not bound the
            // queue yet; what is published before the binding exists is routed nowhere.
            for instance in instances {
                let metrics = try await MetricsProbe.waitFor("chatd_amqp_subscriptions 1.0", at: instance.baseURL,
                                                             timeoutSeconds: 60)
                #expect(metrics.contains("chatd_amqp_subscriptions 1.0"), "\(instance.service.log)")
            }
            let publisher = AMQPPublisher(url: try AMQPURL(RabbitMQFixture.amqpURL), logger: DeliveryFixture.quietLogger)
            try await publisher.declareExchange(exchange)
            for sequence in 0..<updates {
                try await publisher.publish(exchange: exchange, routingKey: DeliveryFixture.routingKey(user.userId),
                                            body: DeliveryFixture.update(for: user.userId, sequence: sequence))
            }
            await publisher.close()
            for client in clients {
                _ = try? await client.waitForLine("EXTRA [0-9]+", timeoutSeconds: 60)
                await client.stop()
                #expect(client.log.contains("RECEIVED 2"), "\(client.log)")
                #expect(client.log.contains("DUPLICATES 0"), "\(client.log)")
                #expect(client.log.contains("EXTRA 0"), "\(client.log)")
            }
            for instance in instances { #expect(await instance.service.stop() == 0) }
        }
    }
}

/// Users, sockets and updates for the delivery tests.
enum DeliveryFixture {
    struct User { var userId: String; var token: String }

    static let quietLogger = Logger(label: "delivery-test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func environment(_ directory: TemporaryDirectory, rabbitMQ: String, exchange: String) -> [String: String] {
        [
            "CHATD_STORE": "sqlite://\(directory.path("users.sqlite"))",
            "CHATD_STATE_DIR": directory.url.path,
            "CHATD_CONFIG": "/dev/null",
            "CHATD_CONTROL_SOCKET": directory.path("chatd.sock"),
            "JWT_SECRET": String(repeating: "r", count: 40),
            "SMS_SENDER": "command",
            "SMS_COMMAND": "true",
            // Nothing listens on the discard port: no Chat3 is needed to deliver updates.
            "CHAT3_API_URL": "http://127.0.0.1:9/api",
            "RABBITMQ_URL": rabbitMQ,
            "RABBITMQ_UPDATES_EXCHANGE": exchange,
        ]
    }

    /// Creates `count` users with chatctl and mints a token for each, a few at a time.
    static func users(_ count: Int, environment: [String: String]) async throws -> [User] {
        let chatctl = ChatBinaries.path("chatctl")
        func make(_ index: Int) async throws -> User {
            let created = try await runCommand(chatctl, ["user", "create", "--create-store", "--phone", "7901\(String(format: "%07d", index))",
                                                         "--name", "Reliable \(index)", "--json"], environment: environment)
            guard created.status == 0, let userId = try JSONValue.parse(created.stdout)["userId"]?.stringValue else {
                throw DeliveryFixtureError.setUp("chatctl user create: \(created.stderr)")
            }
            let minted = try await runCommand(chatctl, ["token", "mint", "--user", userId], environment: environment)
            let token = minted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            guard minted.status == 0, !token.isEmpty else { throw DeliveryFixtureError.setUp("chatctl token mint: \(minted.stderr)") }
            return User(userId: userId, token: token)
        }
        var users: [User] = []
        for start in stride(from: 0, to: count, by: 8) {
            try await withThrowingTaskGroup(of: User.self) { group in
                for index in start..<min(start + 8, count) { group.addTask { try await make(index) } }
                for try await user in group { users.append(user) }
            }
        }
        return users
    }

    /// WebSocket clients, `perToken` per token; each must get `expect` distinct `message:new` events
    /// (by messageId), then listens 2 s more to count duplicates and extras.
    static func sockets(port: Int, tokens: [String], perToken: Int, expect: Int, directory: TemporaryDirectory,
                        name: String) throws -> ServiceProcess {
        let tokensFile = directory.url.appendingPathComponent("\(name)-tokens.json")
        try Data(JSONValue.array(tokens.map(JSONValue.string)).serialized().utf8).write(to: tokensFile)
        let root = RepositoryRoot.find()!
        return try ServiceProcess(root.appendingPathComponent(".venv/bin/python3").path, [
            "-u", root.appendingPathComponent("tools/testclients/sio_load.py").path,
            "--port", "\(port)", "--tokens", tokensFile.path, "--count", "\(tokens.count * perToken)",
            "--event", "message:new", "--expect", "\(expect)", "--key", "messageId", "--linger", "2", "--timeout", "180",
        ], environment: [:], logURL: directory.url.appendingPathComponent("\(name).log"))
    }

    /// Waits until `/ready` reports RabbitMQ `up` or `down`.
    static func rabbitMQCheck(_ baseURL: String, becomes state: String, timeoutSeconds: Double = 60) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            let ready = try await HTTPTestClient.send("GET", "\(baseURL)/ready")
            if ready.json?["checks"]?["rabbitmq"]?.stringValue == state { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    static func routingKey(_ userId: String) -> String { "update.dialog.user.\(userId).message" }

    static func messageId(_ userId: String, _ sequence: Int) -> String {
        "msg_\(userId.dropFirst(4))\(String(format: "%06d", sequence))"
    }

    /// A current-generation `message.create` update whose message id is unique per user and sequence.
    static func update(for userId: String, sequence: Int) -> [UInt8] {
        let messageId = messageId(userId, sequence)
        let body: JSONValue = [
            "tenantId": "tnt_default", "userId": .string(userId), "entityId": .string(messageId),
            "eventId": .string("evt_\(userId)_\(sequence)"), "sourceEventType": "message.create",
            "updateType": "update.message",
            "data": ["message": ["messageId": .string(messageId), "dialogId": "dlg_reliabilityreliabili",
                                 "senderId": "usr_sender01", "content": .string("update \(sequence)")],
                     "context": ["dialogId": "dlg_reliabilityreliabili", "eventType": "message.create"]],
        ]
        return Array(body.serialized().utf8)
    }
}

enum DeliveryFixtureError: Error { case setUp(String) }

extension PrivateRabbitMQ {
    /// How many queues whose names start with `prefix` have at least one consumer.
    func consumedQueues(prefix: String) async throws -> Int {
        let result = try await runCommand("/usr/sbin/rabbitmqctl", ["-q", "-n", nodeName, "list_queues", "name", "consumers"],
                                          timeoutSeconds: 60)
        guard result.status == 0 else { throw DeliveryFixtureError.setUp("rabbitmqctl list_queues: \(result.stderr)") }
        return result.stdout.split(separator: "\n").filter { line in
            let fields = line.split(whereSeparator: \.isWhitespace)
            return fields.count == 2 && fields[0].hasPrefix(prefix) && (Int(fields[1]) ?? 0) > 0
        }.count
    }
}
