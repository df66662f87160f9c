import ChatAMQP
import ChatCore
import Foundation
import Testing
import TestSupport

/// SPEC §11: after real traffic on the real chatd binary (logins, REST calls through to chat3-sim,
/// three WebSocket sockets, updates good and bad from RabbitMQ), every series on `/metrics` has the
/// value that traffic implies.
@Suite("Metrics after traffic", .serialized)
struct MetricsScrapeTests {
    @Test("3 sockets of 2 users, 3 codes sent, 1 wrong, 1 dialog list, 4 updates: each series has its value")
    func everySeriesAfterTraffic() async throws {
        try await RabbitMQFixture.with { broker in
            let directory = try TemporaryDirectory("metrics-scrape")
            defer { directory.remove() }
            let exchange = broker.name("updates")
            let sim = try await Chat3SimProcess.start(arguments: ["--exchange", exchange],
                                                      logURL: directory.url.appendingPathComponent("sim.log"))
            defer { Task { await sim.service.stop() } }
            try "[rabbitmq]\nqueue_template = \"\(broker.name("{userId}"))\"\nqueue_expires = \"1m\"\n"
                .write(toFile: directory.path("chatd.toml"), atomically: true, encoding: .utf8)
            let chatd = try await ChatdProcess.start(environment: [
                "CHATD_STORE": "sqlite://\(directory.path("users.sqlite"))", "CHATD_STATE_DIR": directory.url.path,
                "CHATD_CONFIG": directory.path("chatd.toml"), "CHATD_CONTROL_SOCKET": directory.path("chatd.sock"),
                "JWT_SECRET": String(repeating: "M", count: 40),
                "SMS_SENDER": "command", "SMS_COMMAND": "echo \"$SMS_PHONE $SMS_CODE\" >> '\(directory.path("sms.txt"))'",
                "CHAT3_API_URL": sim.apiURL, "CHAT3_API_KEY": sim.apiKey, "RABBITMQ_UPDATES_EXCHANGE": exchange,
            ], logURL: directory.url.appendingPathComponent("chatd.log"))
            defer { Task { await chatd.service.stop() } }
            let base = chatd.baseURL

            let ann = try await CrossInstanceRealTimeTests.login(base, directory: directory, phone: "79003330001", name: "Ann")
            let bob = try await CrossInstanceRealTimeTests.login(base, directory: directory, phone: "79003330002", name: "Bob")
            // Carl asks for a code and types another one.
            let carl = try await HTTPTestClient.json("POST", "\(base)/api/auth/request-code",
                                                      ["phone": "79003330003", "name": "Carl"])
            #expect(carl.status == 200, "\(carl.text)")
            let sent = try String(contentsOfFile: directory.path("sms.txt"), encoding: .utf8)
            let carlCode = try #require(sent.split(separator: "\n").last { $0.hasPrefix("79003330003 ") }?.split(separator: " ").last)
            let wrongCode = String(carlCode.map { $0 == "1" ? "2" : "1" })
            let wrong = try await HTTPTestClient.json("POST", "\(base)/api/auth/verify-code",
                                                       ["phone": "79003330003", "code": .string(wrongCode)])
            #expect(wrong.status == 400, "\(wrong.text)")
            let dialogs = try await HTTPTestClient.json("GET", "\(base)/api/dialogs", nil, token: ann.token)
            #expect(dialogs.status == 200, "\(dialogs.text)")

            // WebSocket only: a socket's close is then certain to reach chatd when the client leaves.
            let tabs = try (0..<2).map { _ in try ScriptedSocketClient(url: base, token: ann.token, transports: "websocket") }
            let bobSocket = try ScriptedSocketClient(url: base, token: bob.token, transports: "websocket")
            let sockets = tabs + [bobSocket]
            for socket in sockets { try await socket.waitFor { $0["connected"] == true } }

            _ = try await MetricsProbe.waitFor("chatd_websocket_connections 3.0", at: base)
            // A CONNECT waits for its user's subscription only while the broker connection is up; one made
            // while chatd's consumer is still connecting (a loaded machine) is answered first and
            // subscribed right after. Publishing before that would go to a queue that does not exist yet.
            var metrics = try await MetricsProbe.waitFor("chatd_amqp_subscriptions 2.0", at: base, timeoutSeconds: 30)
            #expect(Self.value("chatd_websocket_connections", in: metrics) == 3)
            #expect(Self.value("chatd_users_online", in: metrics) == 2)
            #expect(Self.value("chatd_amqp_subscriptions", in: metrics) == 2)

            // One update Ann's two tabs get, one for another tenant, one malformed, one repeated.
            let publisher = AMQPPublisher(url: try AMQPURL(RabbitMQFixture.amqpURL), logger: DeliveryFixture.quietLogger)
            let key = DeliveryFixture.routingKey(ann.userId)
            let good = DeliveryFixture.update(for: ann.userId, sequence: 1)
            try await publisher.publish(exchange: exchange, routingKey: key, body: good)
            try await publisher.publish(exchange: exchange, routingKey: key, body: good)
            let foreign = String(decoding: DeliveryFixture.update(for: ann.userId, sequence: 2), as: UTF8.self)
                .replacingOccurrences(of: "tnt_default", with: "tnt_elsewhere")
            try await publisher.publish(exchange: exchange, routingKey: key, body: Array(foreign.utf8))
            try await publisher.publish(exchange: exchange, routingKey: key, body: Array("{not json".utf8))
            await publisher.close()
            for tab in tabs { _ = try await tab.waitForEvent("message:new") }

            _ = try await MetricsProbe.waitFor("chatd_updates_received_total 4", at: base)
            // Delivered means both tabs confirmed it: their pong to the receipt ping, sent within
            // realtime.receipt_delay (2 s) of the write.
            metrics = try await MetricsProbe.waitFor("chatd_updates_delivered_total 1", at: base, timeoutSeconds: 20)
            #expect(Self.value("chatd_updates_received_total", in: metrics) == 4, "\(metrics)")
            #expect(Self.value("chatd_updates_delivered_total", in: metrics) == 1)
            #expect(Self.value("chatd_update_delivery_seconds_count", in: metrics) == 1)
            #expect(Self.value(#"chatd_updates_dropped_total{reason="duplicate"}"#, in: metrics) == 1)
            #expect(Self.value(#"chatd_updates_dropped_total{reason="tenant"}"#, in: metrics) == 1)
            #expect(Self.value(#"chatd_updates_dropped_total{reason="malformed"}"#, in: metrics) == 1)
            #expect(Self.value("chatd_auth_codes_issued_total", in: metrics) == 3)
            #expect(Self.value(#"chatd_auth_codes_failed_total{reason="invalid_code"}"#, in: metrics) == 1)
            #expect(Self.value(#"chatd_http_requests_total{method="POST",route="/api/auth/verify-code",status="200"}"#,
                               in: metrics) == 2)
            #expect(Self.value(#"chatd_http_requests_total{method="POST",route="/api/auth/verify-code",status="400"}"#,
                               in: metrics) == 1)
            #expect(Self.value(#"chatd_http_requests_total{method="GET",route="/api/dialogs",status="200"}"#, in: metrics) == 1)
            // The dialog list, plus presence reading each connecting user's dialogs (once per user: cached).
            let dialogLists = Self.value(#"chatd_chat3_request_duration_seconds_count{operation="GET /users/:u/dialogs"}"#,
                                         in: metrics) ?? 0
            #expect((1...3).contains(dialogLists), "\(metrics)")

            for socket in sockets { await socket.stop() }
            metrics = try await MetricsProbe.waitFor("chatd_websocket_connections 0.0", at: base)
            #expect(Self.value("chatd_websocket_connections", in: metrics) == 0)
            #expect(Self.value("chatd_users_online", in: metrics) == 0)
            #expect(Self.value("chatd_amqp_subscriptions", in: metrics) == 0)
        }
    }

    /// The value of the series written exactly as `series` (name and labels), or nil when absent.
    static func value(_ series: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }
}
