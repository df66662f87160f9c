import ChatCore
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TestSupport

/// `chatctl queue …` against the RabbitMQ management API of the broker `make test` runs.
@Suite("chatctl queue", .serialized)
struct QueueCommandTests {
    static let management = "http://127.0.0.1:15672"
    static let authorization = "Basic " + Data("guest:guest".utf8).base64EncodedString()

    @discardableResult
    static func manage(_ method: String, _ path: String, _ body: String? = nil) async throws -> Data {
        var request = URLRequest(url: URL(string: management + path)!, timeoutInterval: 5)
        request.httpMethod = method
        request.setValue(authorization, forHTTPHeaderField: "Authorization")
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body.utf8)
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else { throw FixtureFailure("\(method) \(path): HTTP \(status)") }
        return data
    }

    /// Ready messages as the broker reports them (statistics lag, so wait for `expected`).
    static func depth(_ queue: String, expected: Int) async throws -> Int {
        var ready = -1
        for _ in 0..<60 {
            let data = try await Self.manage("GET", "/api/queues/%2F/\(queue)")
            ready = try JSONValue.parse(data)["messages_ready"]?.intValue ?? -1
            if ready == expected { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        return ready
    }

    @Test("queue peek --user shows the user's queued messages and leaves the depth unchanged; show and list see the queue")
    func peekLeavesMessages() async throws {
        try await RabbitMQFixture.with { rabbit in
            let userId = "usr_" + String(UUID().uuidString.lowercased().filter(\.isLetter).prefix(8)).padding(toLength: 8, withPad: "q", startingAt: 0)
            let template = rabbit.name("u_{userId}_updates")
            let queue = template.replacingOccurrences(of: "{userId}", with: userId)
            try await Self.manage("PUT", "/api/queues/%2F/\(queue)", #"{"durable":false,"auto_delete":false,"arguments":{}}"#)
            for index in 1...3 {
                try await Self.manage("POST", "/api/exchanges/%2F/amq.default/publish", """
                    {"properties":{},"routing_key":"\(queue)","payload":"{\\"n\\":\(index)}","payload_encoding":"string"}
                    """)
            }
            #expect(try await Self.depth(queue, expected: 3) == 3)

            let directory = try TemporaryDirectory("chatctl-queue")
            defer { directory.remove() }
            try "[rabbitmq]\nqueue_template = \"\(template)\"\n".write(toFile: directory.path("chatd.toml"), atomically: true, encoding: .utf8)
            let env = ["CHATD_CONFIG": directory.path("chatd.toml"), "RABBITMQ_MANAGEMENT_URL": RabbitMQFixture.managementURL]
            let chatctl = ChatBinaries.path("chatctl")

            let peeked = try await runCommand(chatctl, ["queue", "peek", "--user", userId, "--count", "2", "--json"], environment: env)
            #expect(peeked.status == 0, "\(peeked.stderr)")
            let messages = try JSONValue.parse(peeked.stdout).arrayValue ?? []
            #expect(messages.compactMap { $0["payload"]?.stringValue } == [#"{"n":1}"#, #"{"n":2}"#])
            let table = try await runCommand(chatctl, ["queue", "peek", "--user", userId], environment: env)
            #expect(table.stdout.contains(#"{"n":3}"#), "\(table.stdout)")
            #expect(try await Self.depth(queue, expected: 3) == 3)

            let shown = try await runCommand(chatctl, ["queue", "show", "--user", userId, "--json"], environment: env)
            #expect(shown.status == 0, "\(shown.stderr)")
            #expect(try JSONValue.parse(shown.stdout)["name"]?.stringValue == queue)
            let listed = try await runCommand(chatctl, ["queue", "list", "--prefix", rabbit.prefix], environment: env)
            #expect(listed.stdout.contains(queue))
            #expect(!listed.stdout.contains("chatpapp_user_"))
        }
    }

    @Test("queue purge refuses without --yes when stdin is not a terminal, and empties the queue with --yes")
    func purge() async throws {
        try await RabbitMQFixture.with { rabbit in
            let queue = rabbit.name("purge")
            try await Self.manage("PUT", "/api/queues/%2F/\(queue)", #"{"durable":false,"auto_delete":false,"arguments":{}}"#)
            try await Self.manage("POST", "/api/exchanges/%2F/amq.default/publish",
                             #"{"properties":{},"routing_key":"\#(queue)","payload":"x","payload_encoding":"string"}"#)
            #expect(try await Self.depth(queue, expected: 1) == 1)
            let env = ["CHATD_CONFIG": "/dev/null", "RABBITMQ_MANAGEMENT_URL": RabbitMQFixture.managementURL]
            let chatctl = ChatBinaries.path("chatctl")

            let refused = try await runCommand(chatctl, ["queue", "purge", queue], environment: env, stdin: "y\n")
            #expect(refused.status == 64)
            #expect(refused.stderr.contains("--yes"))
            #expect(try await Self.depth(queue, expected: 1) == 1)

            let purged = try await runCommand(chatctl, ["queue", "purge", queue, "--yes"], environment: env)
            #expect(purged.status == 0, "\(purged.stderr)")
            #expect(try await Self.depth(queue, expected: 0) == 0)

            let missing = try await runCommand(chatctl, ["queue", "show", rabbit.name("absent")], environment: env)
            #expect(missing.status == 1)
            let both = try await runCommand(chatctl, ["queue", "show", queue, "--user", "usr_abcdefgh"], environment: env)
            #expect(both.status == 64)
        }
    }

    @Test("queue commands exit 69 when the management API does not answer")
    func managementDown() async throws {
        let result = try await runCommand(ChatBinaries.path("chatctl"), ["queue", "list"],
                                          environment: ["CHATD_CONFIG": "/dev/null", "RABBITMQ_MANAGEMENT_URL": "http://guest:guest@127.0.0.1:9"])
        #expect(result.status == 69, "\(result.stderr)")
    }
}
