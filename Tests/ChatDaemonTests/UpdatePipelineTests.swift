import ChatAMQP
import ChatConfig
import ChatCore
import ChatDaemon
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import TestSupport

/// Records what the pipeline hands to "sockets".
final class RecordingDelivery: UpdateDelivering {
    let events = Mutex<[(user: String, event: String, payload: JSONValue)]>([])
    let connected = Mutex<Set<String>>([])

    func deliver(_ emissions: [UpdateEvents.Emission], toUser userId: String, skipping: Set<String>,
                 whenWritten: @escaping @Sendable (_ wrote: Set<String>, _ allWrote: Bool) -> Void)
        async -> (reached: Int, alreadyHad: Int) {
        guard connected.withLock({ $0.contains(userId) }) else { return (0, 0) }
        events.withLock { events in
            for emission in emissions { events.append((userId, emission.event, emission.payload)) }
        }
        whenWritten(["sock_\(userId)"], true)
        return (1, 0)
    }

    func count(_ event: String, for user: String) -> Int {
        events.withLock { $0.filter { $0.user == user && $0.event == event }.count }
    }

    func waitFor(_ event: String, user: String, count: Int, timeout: Double = 10) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if self.count(event, for: user) >= count { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }
}

/// A pipeline on the real broker with its own exchange, and a publisher playing Chat3.
struct PipelineHarness {
    let exchange = "test_updates_\(UUID().uuidString.prefix(8).lowercased())"
    let template = "test_user_{userId}_\(UUID().uuidString.prefix(6).lowercased())"
    let pipeline: UpdatePipeline
    let delivery = RecordingDelivery()
    let publisher: AMQPPublisher
    let metrics = ChatMetrics()

    init(expires: String = "1h") throws {
        let template = self.template
        let config = try ConfigLoader(environment: [
            "CHATD_DEV": "1", "CHATD_CONFIG": "/dev/null", "RABBITMQ_UPDATES_EXCHANGE": exchange,
            "CHATD_STATE_DIR": FileManager.default.temporaryDirectory.path,
        ], readFile: { _ in "[rabbitmq]\nqueue_template = \"\(template)\"\nqueue_expires = \"\(expires)\"\n" }).load()
        let logger = Logger(label: "pipeline-test", factory: { _ in SwiftLogNoOpLogHandler() })
        pipeline = UpdatePipeline(userQueues: try UserQueues(config: config, metrics: metrics, logger: logger), sockets: delivery)
        publisher = try AMQPPublisher(url: AMQPURL(config.rabbitMQURL), logger: logger)
    }

    func current(_ user: String, event: String = "message.create", eventId: String = "evt_\(UUID().uuidString)",
                 tenant: String = "tnt_default", content: String = "Hello!") -> [UInt8] {
        let body: JSONValue = [
            "tenantId": .string(tenant), "userId": .string(user), "entityId": "msg_aaaaaaaaaaaaaaaaaaaa",
            "eventId": .string(eventId), "sourceEventType": .string(event), "updateType": "update.message",
            "data": ["message": ["messageId": "msg_aaaaaaaaaaaaaaaaaaaa", "dialogId": "dlg_bbbbbbbbbbbbbbbbbbbb",
                                 "content": .string(content)],
                     "context": ["dialogId": "dlg_bbbbbbbbbbbbbbbbbbbb"]],
        ]
        return Array(body.serialized().utf8)
    }

    func publish(_ user: String, _ body: [UInt8], legacy: Bool = false) async throws {
        let key = legacy ? "user.\(user).messageupdate" : "update.dialog.user.\(user).message"
        try await publisher.publish(exchange: exchange, routingKey: key, body: body)
    }

    func connect(_ user: String) async throws {
        delivery.connected.withLock { _ = $0.insert(user) }
        pipeline.userQueues.userConnected(user)
        let deadline = Date().addingTimeInterval(30)
        while !pipeline.userQueues.isSubscribed(user) {
            guard Date() < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func disconnect(_ user: String) {
        delivery.connected.withLock { _ = $0.remove(user) }
        pipeline.userQueues.userDisconnected(user)
    }

    /// Runs the pipeline while `body` runs.
    func run(_ body: () async throws -> Void) async throws {
        try await publisher.declareExchange(exchange)
        let task = Task { try await pipeline.run() }
        defer { task.cancel() }
        try await body()
    }
}

@Suite("Update pipeline", .serialized)
struct UpdatePipelineTests {
    @Test("an update for a connected user becomes chat3:update and message:new on that user's sockets, both generations")
    func delivers() async throws {
        let h = try PipelineHarness()
        try await h.run {
            try await h.connect("usr_aaaaaaaa")
            try await Task.sleep(for: .milliseconds(200))
            try await h.publish("usr_aaaaaaaa", h.current("usr_aaaaaaaa"))
            #expect(await h.delivery.waitFor("message:new", user: "usr_aaaaaaaa", count: 1))
            #expect(h.delivery.count("chat3:update", for: "usr_aaaaaaaa") == 1)
            let legacy = #"{"eventType":"message.create","dialogId":"dlg_x","entityId":"msg_y","userId":"usr_aaaaaaaa","data":{"message":{"content":"old"}}}"#
            try await h.publish("usr_aaaaaaaa", Array(legacy.utf8), legacy: true)
            #expect(await h.delivery.waitFor("message:new", user: "usr_aaaaaaaa", count: 2))
        }
    }

    @Test("other tenants, duplicates and other users' updates are dropped; malformed ones are rejected and delivery goes on")
    func filters() async throws {
        let h = try PipelineHarness()
        try await h.run {
            try await h.connect("usr_bbbbbbbb")
            try await Task.sleep(for: .milliseconds(200))
            try await h.publish("usr_bbbbbbbb", h.current("usr_bbbbbbbb", tenant: "tnt_other"))
            try await h.publish("usr_bbbbbbbb", h.current("usr_bbbbbbbb", eventId: "evt_same"))
            try await h.publish("usr_bbbbbbbb", h.current("usr_bbbbbbbb", eventId: "evt_same"))
            try await h.publish("usr_bbbbbbbb", Array("{not json".utf8))
            try await h.publish("usr_bbbbbbbb", h.current("usr_bbbbbbbb", content: "last"))
            #expect(await h.delivery.waitFor("message:new", user: "usr_bbbbbbbb", count: 2))
            try await Task.sleep(for: .milliseconds(300))
            #expect(h.delivery.count("message:new", for: "usr_bbbbbbbb") == 2)
            let metrics = h.metrics.render()
            #expect(metrics.contains(#"chatd_updates_dropped_total{reason="tenant"} 1"#))
            #expect(metrics.contains(#"chatd_updates_dropped_total{reason="duplicate"} 1"#))
            #expect(metrics.contains(#"chatd_updates_dropped_total{reason="malformed"} 1"#))
        }
    }

    @Test("updates published while a user is away arrive when it reconnects within x-expires")
    func recovery() async throws {
        let h = try PipelineHarness()
        try await h.run {
            try await h.connect("usr_cccccccc")
            try await Task.sleep(for: .milliseconds(200))
            h.disconnect("usr_cccccccc")
            try await Task.sleep(for: .milliseconds(300))
            for index in 0..<5 { try await h.publish("usr_cccccccc", h.current("usr_cccccccc", content: "away \(index)")) }
            try await Task.sleep(for: .milliseconds(200))
            #expect(h.delivery.count("message:new", for: "usr_cccccccc") == 0)
            try await h.connect("usr_cccccccc")
            #expect(await h.delivery.waitFor("message:new", user: "usr_cccccccc", count: 5))
        }
    }

    @Test("a user reconnecting within x-expires is answered without waiting for the subscription, and an update published before the consumer is back still arrives")
    func reconnectWithinExpiry() async throws {
        let h = try PipelineHarness()
        try await h.run {
            let queues = h.pipeline.userQueues
            #expect(await !queues.waitUntilSubscribed("usr_ffffffff", timeout: .zero), "a first connect waits")
            try await h.connect("usr_eeeeeeee")
            h.disconnect("usr_eeeeeeee")
            // Once the cancel is done the queue is known to exist: a zero wait is answered yes.
            try await waitUntil(seconds: 30) {
                guard !queues.isSubscribed("usr_eeeeeeee") else { return false }
                return await queues.waitUntilSubscribed("usr_eeeeeeee", timeout: .zero)
            }
            h.delivery.connected.withLock { _ = $0.insert("usr_eeeeeeee") }
            queues.userConnected("usr_eeeeeeee")
            #expect(await queues.waitUntilSubscribed("usr_eeeeeeee", timeout: .zero))
            // Published at once, most likely before the new consumer exists: it waits in the queue.
            try await h.publish("usr_eeeeeeee", h.current("usr_eeeeeeee", content: "right after the reconnect"))
            #expect(await h.delivery.waitFor("message:new", user: "usr_eeeeeeee", count: 1, timeout: 30))
        }
    }

    @Test("10,000 malformed messages in a user's queue do not stop the good ones")
    func malformedFlood() async throws {
        let h = try PipelineHarness()
        try await h.run {
            try await h.connect("usr_dddddddd")
            try await Task.sleep(for: .milliseconds(200))
            let junk: [UInt8] = Array(#"{"truncated":"#.utf8)
            for _ in 0..<10_000 { try await h.publish("usr_dddddddd", junk) }
            try await h.publish("usr_dddddddd", h.current("usr_dddddddd", content: "after the flood"))
            #expect(await h.delivery.waitFor("message:new", user: "usr_dddddddd", count: 1, timeout: 60))
            #expect(h.metrics.render().contains(#"chatd_updates_dropped_total{reason="malformed"} 10000"#))
        }
    }
}
