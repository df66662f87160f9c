import Foundation
import Testing
import TestSupport

/// Two chatd with the same queue names on one broker would be competing consumers on every user's
/// queue and split each user's update stream; the second one must refuse (exit 78, EX_CONFIG).
/// Real chatd binaries, real RabbitMQ; the second instance shares the first one's store, as behind a
/// load balancer.
@Suite("One chatd per instance name on a broker")
struct InstanceLockTests {
    static let refusal = "give each instance its own rabbitmq.instance (CHATD_INSTANCE)"

    /// Files and environment for chatd sharing one store. `template` nil: the default queue template.
    static func environment(_ directory: TemporaryDirectory, broker: RabbitMQFixture, template: String?) throws -> [String: String] {
        let configFile = directory.path("chatd.toml")
        let config = template.map { "[rabbitmq]\nqueue_template = \"\($0)\"\n" } ?? ""
        try config.write(toFile: configFile, atomically: true, encoding: .utf8)
        return [
            "CHATD_STORE": "sqlite://\(directory.path("users.sqlite"))", "CHATD_CONFIG": configFile,
            "JWT_SECRET": String(repeating: "L", count: 40), "RABBITMQ_UPDATES_EXCHANGE": broker.name("updates"),
            "CHATD_EVENTS_EXCHANGE": broker.name("events"), "SMS_SENDER": "command", "SMS_COMMAND": "true",
        ]
    }

    /// The environment of instance `name` (own control socket and state directory).
    static func own(_ shared: [String: String], _ directory: TemporaryDirectory, _ name: String) throws -> [String: String] {
        let state = directory.url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        return shared.merging(["CHATD_STATE_DIR": state.path, "CHATD_CONTROL_SOCKET": directory.path("\(name).sock")]) { $1 }
    }

    @Test("a second chatd with the same instance name exits 78 naming rabbitmq.instance, and the first keeps serving",
          arguments: [true, false])
    func sameInstanceRefused(named: Bool) async throws {
        try await RabbitMQFixture.with { broker in
            let directory = try TemporaryDirectory("instance-lock")
            defer { directory.remove() }
            var shared = try Self.environment(directory, broker: broker,
                                              template: named ? broker.name("{instance}_{userId}") : nil)
            // Unnamed: the default instance and template, as an operator who copies one config twice.
            if named { shared["CHATD_INSTANCE"] = "lock-\(UUID().uuidString.prefix(8).lowercased())" }
            let first = try await ChatdProcess.start(environment: try Self.own(shared, directory, "first"),
                                                     logURL: directory.url.appendingPathComponent("first.log"))
            defer { Task { await first.service.stop() } }

            let second = try await runCommand(ChatBinaries.path("chatd"), ["--port", "0", "--host", "127.0.0.1"],
                                              environment: try Self.own(shared, directory, "second"), timeoutSeconds: 60)
            #expect(second.status == 78, "\(second.stderr)")
            #expect(second.stderr.contains(Self.refusal), "\(second.stderr)")
            #expect(!second.stderr.contains("chatd ready"), "\(second.stderr)")
            let instance = named ? shared["CHATD_INSTANCE"]! : "default"
            #expect(second.stderr.contains("another chatd holds instance \"\(instance)\""), "\(second.stderr)")

            let health = try await HTTPTestClient.send("GET", "\(first.baseURL)/health")
            #expect(health.status == 200)
            #expect(first.service.isRunning)
            #expect(await first.service.stop() == 0)
        }
    }

    @Test("a second chatd reaching the first one's SQLite file through a symlinked directory is the same instance on the same store: it exits 78")
    func sameStoreThroughSymlinkRefused() async throws {
        try await RabbitMQFixture.with { broker in
            let directory = try TemporaryDirectory("instance-lock")
            defer { directory.remove() }
            let shared = try Self.environment(directory, broker: broker, template: nil)
            let first = try await ChatdProcess.start(environment: try Self.own(shared, directory, "first"),
                                                     logURL: directory.url.appendingPathComponent("first.log"))
            defer { Task { await first.service.stop() } }
            let link = directory.path("store-link")
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: directory.url.path)
            var second = try Self.own(shared, directory, "second")
            second["CHATD_STORE"] = "sqlite://\(link)/./users.sqlite"
            let refused = try await runCommand(ChatBinaries.path("chatd"), ["--port", "0", "--host", "127.0.0.1"],
                                               environment: second, timeoutSeconds: 60)
            #expect(refused.status == 78, "\(refused.stderr)")
            #expect(refused.stderr.contains(Self.refusal), "\(refused.stderr)")
            #expect(first.service.isRunning)
            #expect(await first.service.stop() == 0)
        }
    }

    @Test("two chatd with distinct instance names on one broker and store both run and hold their own lock")
    func distinctInstancesBothRun() async throws {
        try await RabbitMQFixture.with { broker in
            let directory = try TemporaryDirectory("instance-lock")
            defer { directory.remove() }
            let shared = try Self.environment(directory, broker: broker, template: broker.name("{instance}_{userId}"))
            let run = UUID().uuidString.prefix(8).lowercased()
            var instances: [ChatdProcess] = []
            defer { for instance in instances { Task { await instance.service.stop() } } }
            for name in ["east", "west"] {
                var environment = try Self.own(shared, directory, name)
                environment["CHATD_INSTANCE"] = "\(name)-\(run)"
                instances.append(try await ChatdProcess.start(environment: environment,
                                                              logURL: directory.url.appendingPathComponent("\(name).log")))
            }
            for instance in instances {
                _ = try await instance.service.waitForLine("instance lock held")
                #expect(try await HTTPTestClient.send("GET", "\(instance.baseURL)/health").status == 200)
                #expect(!instance.service.log.contains(Self.refusal))
            }
            for instance in instances { #expect(await instance.service.stop() == 0) }
        }
    }

    @Test("a chatd that started while the broker was unreachable exits 78 once the broker answers and the lock is taken")
    func refusedAfterBrokerReturns() async throws {
        try await RabbitMQFixture.with { broker in
            let directory = try TemporaryDirectory("instance-lock")
            defer { directory.remove() }
            var shared = try Self.environment(directory, broker: broker, template: broker.name("{instance}_{userId}"))
            shared["CHATD_INSTANCE"] = "late-\(UUID().uuidString.prefix(8).lowercased())"
            let first = try await ChatdProcess.start(environment: try Self.own(shared, directory, "first"),
                                                     logURL: directory.url.appendingPathComponent("first.log"))
            defer { Task { await first.service.stop() } }

            let proxy = try BrokerProxy()
            proxy.cut()
            var late = try Self.own(shared, directory, "late")
            late["RABBITMQ_URL"] = proxy.amqpURL
            // Tolerates the outage: starts and serves without the broker.
            let second = try await ChatdProcess.start(environment: late, logURL: directory.url.appendingPathComponent("late.log"))
            defer { Task { await second.service.stop() } }
            #expect(try await HTTPTestClient.send("GET", "\(second.baseURL)/health").status == 200)

            try proxy.restore()
            let deadline = Date().addingTimeInterval(60)
            while second.service.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(!second.service.isRunning)
            #expect(second.service.exitStatus == 78, "\(second.service.log)")
            #expect(second.service.log.contains(Self.refusal), "\(second.service.log)")
            #expect(try await HTTPTestClient.send("GET", "\(first.baseURL)/health").status == 200)
            proxy.cut()
        }
    }

    @Test("a chatd whose lock connection drops takes the lock again when the broker returns and keeps serving")
    func reacquiredAfterReconnect() async throws {
        try await RabbitMQFixture.with { broker in
            let directory = try TemporaryDirectory("instance-lock")
            defer { directory.remove() }
            var environment = try Self.own(try Self.environment(directory, broker: broker, template: broker.name("{instance}_{userId}")),
                                           directory, "only")
            environment["CHATD_INSTANCE"] = "again-\(UUID().uuidString.prefix(8).lowercased())"
            let proxy = try BrokerProxy()
            environment["RABBITMQ_URL"] = proxy.amqpURL
            let chatd = try await ChatdProcess.start(environment: environment, logURL: directory.url.appendingPathComponent("only.log"))
            defer { Task { await chatd.service.stop() } }
            _ = try await chatd.service.waitForLine("instance lock held")
            proxy.cut()
            _ = try await chatd.service.waitForLine("amqp instance lock disconnected")
            try proxy.restore()
            _ = try await chatd.service.waitForLine("(?s)instance lock held.*instance lock held")
            #expect(try await HTTPTestClient.send("GET", "\(chatd.baseURL)/health").status == 200)
            #expect(!chatd.service.log.contains(Self.refusal))
            #expect(await chatd.service.stop() == 0)
            proxy.cut()
        }
    }
}
