import ChatAMQP
import ChatCore
import ChatDaemon
import Foundation
import Logging
import SocketIO
import Testing
import TestSupport

/// chatd's composition in this process with its update pipeline on the real broker, an exchange and
/// queue names of its own, and the raw Engine.IO client (tools/testclients/eio_raw.py) that fails the
/// way networks and browsers do.
struct DeliveryHarness {
    let realTime: RealTimeHarness
    let exchange = "deliverytest_\(UUID().uuidString.prefix(8).lowercased())"
    let queuePrefix = "deliverytest_\(UUID().uuidString.prefix(6).lowercased())_"
    let configDirectory: TemporaryDirectory
    var hub: RealTimeHub { realTime.hub }
    var directory: TemporaryDirectory { realTime.directory }
    static let quietLogger = Logger(label: "delivery-test", factory: { _ in SwiftLogNoOpLogHandler() })

    init(server: SocketIOServer.Configuration = .init(), outboxLimit: Int = 4 << 20, prefetch: Int = 256,
         membership: MembershipDouble = MembershipDouble()) async throws {
        configDirectory = try TemporaryDirectory("delivery-config")
        let file = configDirectory.path("chatd.toml")
        try """
        [rabbitmq]
        queue_template = "\(queuePrefix){userId}"
        queue_expires = "10m"
        prefetch = \(prefetch)

        [realtime]
        outbox_limit = \(outboxLimit)
        """.write(toFile: file, atomically: true, encoding: .utf8)
        realTime = try await RealTimeHarness(membership: membership, server: server, extraEnvironment: [
            "CHATD_CONFIG": file, "RABBITMQ_UPDATES_EXCHANGE": exchange,
        ])
    }

    /// A heartbeat of 1 s, so a dead session is noticed in seconds, as engine.io notices it.
    static func fastHeartbeat(pingTimeout: Duration) -> SocketIOServer.Configuration {
        SocketIOServer.Configuration(engine: EngineIOConfiguration(pingInterval: .seconds(1), pingTimeout: pingTimeout),
                                     sweepInterval: .milliseconds(100))
    }

    /// Runs the pipeline, the hub and the HTTP server around `body`.
    func live(connections: ConnectionTracker? = nil,
              _ body: @escaping @Sendable (_ port: Int) async throws -> Void) async throws {
        let publisher = AMQPPublisher(url: try AMQPURL(RabbitMQFixture.amqpURL), logger: DeliveryHarness.quietLogger)
        try await publisher.declareExchange(exchange)
        await publisher.close()
        let pipeline = realTime.services.pipeline
        let running = Task { try await pipeline.run() }
        defer { running.cancel() }
        try await realTime.live(connections: connections, body)
    }

    /// Publishes `message.create` updates `range` for the user, as Chat3 does; `padding` bytes of content
    /// make each one bigger.
    func publish(_ userId: UserID, _ range: Range<Int>, padding: Int = 0) async throws {
        let publisher = AMQPPublisher(url: try AMQPURL(RabbitMQFixture.amqpURL), logger: DeliveryHarness.quietLogger)
        let filler = String(repeating: "x", count: padding)
        for sequence in range {
            let messageId = "msg_\(String(format: "%020d", sequence))"
            let body: JSONValue = [
                "tenantId": "tnt_default", "userId": .string(userId.rawValue), "entityId": .string(messageId),
                "eventId": .string("evt_\(userId.rawValue)_\(sequence)"), "sourceEventType": "message.create",
                "updateType": "update.message",
                "data": ["message": ["messageId": .string(messageId), "dialogId": .string(RealTimeHarness.dialog),
                                     "senderId": "usr_sender01", "content": .string("update \(sequence) \(filler)")],
                         "context": ["dialogId": .string(RealTimeHarness.dialog), "eventType": "message.create"]],
            ]
            try await publisher.publish(exchange: exchange, routingKey: "update.dialog.user.\(userId.rawValue).message",
                                        body: Array(body.serialized().utf8))
        }
        await publisher.close()
    }

    /// Waits until the user's queue is declared and bound. A CONNECT is answered at
    /// `rabbitmq.subscribe_wait` even when the subscription is not there yet (a loaded broker), and what
    /// Chat3 publishes before the binding exists is routed nowhere; these tests are about what follows.
    /// A queue cancelled since counts: on a loaded machine the short test heartbeat can end a stalled
    /// session before its subscription is seen, and the queue (x-expires 10 min) still takes every update.
    func subscribed(_ userId: UserID) async throws {
        let queues = realTime.services.pipeline.userQueues
        try await waitUntil(seconds: 60) { queues.hasQueue(userId.rawValue) }
    }

    static func messageIds(_ range: Range<Int>) -> Set<String> {
        Set(range.map { "msg_\(String(format: "%020d", $0))" })
    }

    struct QueueCounts: Equatable {
        var ready: Int
        var unacked: Int
        var consumers: Int
    }

    /// The user's queue as `rabbitmqctl list_queues` shows it: exact counts, unlike the management
    /// API's sampled statistics.
    func queue(of userId: UserID) async throws -> QueueCounts? {
        let result = try await runCommand("/usr/sbin/rabbitmqctl", [
            "-q", "list_queues", "name", "messages_ready", "messages_unacknowledged", "consumers",
        ], timeoutSeconds: 60)
        guard result.status == 0 else { throw DeliveryHarnessError.setUp("rabbitmqctl: \(result.stderr)") }
        for line in result.stdout.split(separator: "\n") {
            let fields = line.split(whereSeparator: \.isWhitespace)
            if fields.count == 4, fields[0] == queuePrefix + userId.rawValue {
                return QueueCounts(ready: Int(fields[1]) ?? -1, unacked: Int(fields[2]) ?? -1, consumers: Int(fields[3]) ?? -1)
            }
        }
        return nil
    }

    /// Waits until the user's queue has no consumer and nothing unacknowledged: what it holds now is
    /// exactly what nobody got.
    func settledQueue(of userId: UserID, timeout: Double = 60) async throws -> QueueCounts {
        let deadline = Date().addingTimeInterval(timeout)
        var last: QueueCounts?
        while Date() < deadline {
            last = try await queue(of: userId)
            if let last, last.consumers == 0, last.unacked == 0 { return last }
            try await Task.sleep(for: .milliseconds(300))
        }
        throw DeliveryHarnessError.setUp("queue never settled: \(String(describing: last))")
    }

    func raw(_ arguments: [String], name: String) throws -> ServiceProcess {
        try PythonClient.start("eio_raw.py", arguments, log: directory.url.appendingPathComponent("\(name).log"))
    }

    func cleanUp() async {
        await realTime.cleanUp()
        configDirectory.remove()
        let management = try? RabbitManagementClient(url: RabbitMQFixture.managementURL)
        for queue in (try? await management?.listQueues(prefix: queuePrefix)) ?? [] {
            _ = try? await management?.purge(queue: queue.name)
        }
    }
}

enum DeliveryHarnessError: Error { case setUp(String) }

@Suite("Updates are acked only once written", .serialized)
struct DeliveryOnWriteTests {
    @Test("a polling client whose network stops: a new socket 3 s later gets all 20 updates sent meanwhile")
    func deadPollingLink() async throws {
        // Short heartbeats so the dead session is noticed in seconds, as engine.io notices it. The pong
        // timeout stays well above the CONNECT's subscribe wait (2 s), which holds the transport's
        // requests: with 1 s a loaded machine ended sessions while they connected.
        let fast = DeliveryHarness.fastHeartbeat(pingTimeout: .seconds(5))
        let h = try await DeliveryHarness(server: fast)
        defer { Task { await h.cleanUp() } }
        let (ann, token) = try await h.realTime.user("Ann", phone: "79000000101")
        try await h.live { port in
            let stalled = try h.raw(["stall-poll", "--port", "\(port)", "--token", token], name: "stalled")
            defer { Task { await stalled.stop(signal: SIGKILL) } }
            _ = try await stalled.waitForLine("STALLED")
            try await h.subscribed(ann.userId)
            try await Task.sleep(for: .milliseconds(300))
            try await h.publish(ann.userId, 0..<20)
            try await Task.sleep(for: .seconds(3))
            let fresh = try h.raw(["ws", "--port", "\(port)", "--token", token, "--expect", "20", "--idle", "20",
                                   "--linger", "1"], name: "fresh")
            _ = try await fresh.waitForLine("IDS", timeoutSeconds: 60)
            let report = RawReport(fresh.log)
            #expect(report.received == 20, "\(fresh.log)")
            #expect(report.duplicates == 0, "\(fresh.log)")
            #expect(Set(report.ids) == DeliveryHarness.messageIds(0..<20))
            await fresh.stop()
        }
    }

    @Test("a WebSocket reader that stops reading while 1,500 updates arrive holds at most prefetch of them and none is acked; once it is cut all 1,500 wait in its queue, and all arrive on reconnect, repeated once at most per cut")
    func slowWebSocketReader() async throws {
        // The issue's scenario sends 6,000; 1,500 show the same. An update is acked only once the reader
        // answered a ping sent after it, so a reader that stops holds prefetch (48) updates and acks none;
        // its session ends at the ping timeout (short here). The outbox keeps its default size: a small one
        // would also cut the readers that drain the backlog afterwards (its bursts outrun a loaded reader).
        let total = 1500
        let fast = DeliveryHarness.fastHeartbeat(pingTimeout: .seconds(5))
        let h = try await DeliveryHarness(server: fast, prefetch: 48)
        defer { Task { await h.cleanUp() } }
        let (bob, token) = try await h.realTime.user("Bob", phone: "79000000102")
        let resume = h.directory.path("resume")
        try await h.live { port in
            let slow = try h.raw(["ws", "--port", "\(port)", "--token", token, "--stall", "--resume-file", resume,
                                  "--idle", "5"], name: "slow")
            defer { Task { await slow.stop(signal: SIGKILL) } }
            _ = try await slow.waitForLine("STALLED")
            try await h.subscribed(bob.userId)
            try await h.publish(bob.userId, 0..<total, padding: 1000)
            try await waitUntil(seconds: 60) { await h.hub.server.sockets(of: bob.userId).isEmpty }
            let queued = try await h.settledQueue(of: bob.userId)
            #expect(queued.ready == total, """
                a reader that confirmed nothing had updates acked: \(queued)
                \(h.realTime.services.metrics.render().split(separator: "\n").filter { $0.hasPrefix("chatd_updates") || $0.hasPrefix("chatd_socket") }.joined(separator: "\n"))
                \(slow.log.suffix(400))
                """)
            FileManager.default.createFile(atPath: resume, contents: nil)
            _ = try await slow.waitForLine("IDS", timeoutSeconds: 60)
            let before = RawReport(slow.log)
            // What the kernel had taken may still be read after the cut; it is queued again all the same.
            #expect(before.received <= 48, "read \(before.received), more than prefetch")
            #expect(before.duplicates == 0)

            let seen = try await Self.drain(h, bob.userId, token: token, port: port, waiting: queued.ready,
                                            seen: before.ids)
            #expect(Set(seen) == DeliveryHarness.messageIds(0..<total), "updates lost")
            // A cut hands out again what the reader had not confirmed: one repeat at most per cut (the
            // stalled reader's, and any overflow of a later round).
            let cuts = 1 + Self.overflowCuts(h.realTime.services.metrics.render())
            let counts = Dictionary(seen.map { ($0, 1) }, uniquingKeysWith: +)
            #expect(counts.values.allSatisfy { $0 <= 1 + cuts }, "an update came more often than once plus once per cut (\(cuts))")
        }
    }

    @Test("a WebSocket peer that neither reads nor answers, with more written than the kernel takes: its session ends at the ping timeout and its connection is closed within the close grace after, with none of its updates acked")
    func unreadConnectionClosedAfterSessionEnds() async throws {
        // 512 in flight of 16 KB each (8 MB) against what the kernel takes for a reader that reads nothing
        // (a few MB on loopback, see below): the pump's write stays pending for good. The outbox is big
        // enough never to overflow, so it is the heartbeat that ends the session; the connection must go
        // `closeGrace` (5 s) later although the pump never drains. The ping timeout leaves the publisher
        // time to get all of it to chatd first.
        let total = 1000
        let fast = DeliveryHarness.fastHeartbeat(pingTimeout: .seconds(10))
        let h = try await DeliveryHarness(server: fast, outboxLimit: 64 << 20, prefetch: 512)
        defer { Task { await h.cleanUp() } }
        let connections = ConnectionTracker(
            limits: .init(maxConnections: 1000, maxConnectionsPerAddress: 1000, requestHeadTimeout: .seconds(3600)),
            trustedProxies: .none, limitHit: { _ in })
        let (eve, token) = try await h.realTime.user("Eve", phone: "79000000107")
        let resume = h.directory.path("resume")
        try await h.live(connections: connections) { port in
            let slow = try h.raw(["ws", "--port", "\(port)", "--token", token, "--stall", "--resume-file", resume,
                                  "--idle", "5"], name: "unread")
            defer { Task { await slow.stop(signal: SIGKILL) } }
            _ = try await slow.waitForLine("STALLED")
            try await h.subscribed(eve.userId)
            // The WebSocket, and the test framework's client, which sends nothing here and stays (its
            // request-head timeout is an hour).
            let open = connections.openCount
            #expect(open >= 1)
            try await h.publish(eve.userId, 0..<total, padding: 16000)
            try await waitUntil(seconds: 60) { await h.hub.server.sockets(of: eve.userId).isEmpty }
            let ended = ContinuousClock.now
            try await waitUntil(seconds: 30) { connections.openCount == open - 1 }
            let closedAfter = ContinuousClock.now - ended
            #expect(closedAfter < .seconds(10), "the connection outlived its session by \(closedAfter)")
            let metrics = h.realTime.services.metrics.render()
            #expect(Self.overflowCuts(metrics) == 0, "the outbox, not the heartbeat, ended the session")
            // The writes were stuck when the connection went: what they held is reported unwritten.
            let unwritten = metrics.split(separator: "\n").first { $0.hasPrefix("chatd_updates_unwritten_total ") }
            #expect((unwritten.flatMap { Int($0.split(separator: " ")[1]) } ?? 0) > 0, "nothing was unwritten: \(unwritten ?? "")")
            let queued = try await h.settledQueue(of: eve.userId)
            #expect(queued.ready == total, "a reader that confirmed nothing had updates acked: \(queued)")
        }
    }

    @Test("a reader that stops reading past realtime.outbox_limit (a WebSocket that reads nothing, a polling client that asks for nothing) is cut as outbox_overflow long before its heartbeat would end it, with none of its updates acked; all of them wait in its queue and arrive on reconnect",
          arguments: ["ws", "stall-poll"])
    func outboxOverflowCut(transport: String) async throws {
        // 512 in flight of 16 KB each: 8 MB, against a 128 KiB outbox and what the kernel takes for a
        // reader that does not read. That is more than its 4 KB receive buffer suggests: on loopback (64 KB
        // segments) the sender's buffer grows to a few MB (`tcp_wmem` caps it at 4 MB here). The polling
        // client's one held GET takes a response; every packet after it waits in the session's outbox. The
        // heartbeat keeps its default (an unanswered ping ends the session after 20 s), so a cut within
        // seconds is the outbox's; the metric says so.
        let total = 1000
        let h = try await DeliveryHarness(outboxLimit: 128 << 10, prefetch: 512)
        defer { Task { await h.cleanUp() } }
        let (dora, token) = try await h.realTime.user("Dora", phone: "79000000106")
        let resume = h.directory.path("resume")
        try await h.live { port in
            let arguments = transport == "ws"
                ? ["ws", "--port", "\(port)", "--token", token, "--stall", "--resume-file", resume, "--idle", "5"]
                : ["stall-poll", "--port", "\(port)", "--token", token]
            let slow = try h.raw(arguments, name: "slow")
            defer { Task { await slow.stop(signal: SIGKILL) } }
            _ = try await slow.waitForLine("STALLED")
            try await h.subscribed(dora.userId)
            try await h.publish(dora.userId, 0..<total, padding: 16000)
            try await waitUntil(seconds: 30) { await h.hub.server.sockets(of: dora.userId).isEmpty }
            let metrics = h.realTime.services.metrics.render()
            #expect(Self.overflowCuts(metrics) == 1, "\(metrics.split(separator: "\n").filter { $0.hasPrefix("chatd_socket_sessions_closed") })")
            let queued = try await h.settledQueue(of: dora.userId)
            #expect(queued.ready == total, "a reader that confirmed nothing had updates acked: \(queued)")
            var before: [String] = []
            if transport == "ws" {
                FileManager.default.createFile(atPath: resume, contents: nil)
                _ = try await slow.waitForLine("IDS", timeoutSeconds: 60)
                let report = RawReport(slow.log)
                #expect(report.duplicates == 0)
                before = report.ids
            }
            let seen = try await Self.drain(h, dora.userId, token: token, port: port, waiting: queued.ready,
                                            seen: before)
            let lost = DeliveryHarness.messageIds(0..<total).subtracting(seen)
            #expect(lost.isEmpty, "\(lost.count) updates lost, e.g. \(lost.sorted().prefix(5))")
            let cuts = Self.overflowCuts(h.realTime.services.metrics.render())
            let counts = Dictionary(seen.map { ($0, 1) }, uniquingKeysWith: +)
            #expect(counts.values.allSatisfy { $0 <= 1 + cuts }, "an update came more often than once plus once per cut (\(cuts))")
        }
    }

    /// Reconnects until the user's queue is drained and returns `seen` with every id read; a reader cut
    /// again (a loaded machine) costs a round, never an update. Each reader stays past
    /// `realtime.receipt_delay` (2 s) after its last update: what a client leaves with before its receipt
    /// was asked for is handed out again on the next connect (measured: the last 104 of 1,000 came again
    /// on each of six reconnects of a reader that left after 1 s).
    static func drain(_ h: DeliveryHarness, _ user: UserID, token: String, port: Int, waiting: Int,
                      seen: [String]) async throws -> [String] {
        var seen = seen
        var waiting = waiting
        for round in 0..<6 where waiting > 0 {
            let again = try h.raw(["ws", "--port", "\(port)", "--token", token, "--expect", "\(waiting)",
                                   "--idle", "20", "--linger", "3"], name: "again-\(round)")
            // A reader cut again during its handshake exits without a report: that round read nothing.
            _ = try? await again.waitForLine("IDS", timeoutSeconds: 90)
            seen += RawReport(again.log).ids
            await again.stop()
            waiting = try await h.settledQueue(of: user).ready
        }
        #expect(waiting == 0, "\(waiting) still queued after six reconnects")
        return seen
    }

    @Test("updates a WebSocket gets within realtime.receipt_delay are confirmed by one ping, not one each, and are all acked once it is answered")
    func receiptsCoalesced() async throws {
        let h = try await DeliveryHarness()
        defer { Task { await h.cleanUp() } }
        let (carol, token) = try await h.realTime.user("Carol", phone: "79000000103")
        try await h.live { port in
            // The default delay (2 s) and sweep; the heartbeat (25 s) does not come within the test.
            let client = try h.raw(["ws", "--port", "\(port)", "--token", token, "--expect", "10", "--idle", "20",
                                    "--linger", "5"], name: "coalesced")
            defer { Task { await client.stop(signal: SIGKILL) } }
            try await waitUntil(seconds: 30) { await !h.hub.server.sockets(of: carol.userId).isEmpty }
            try await h.subscribed(carol.userId)
            // 100 ms apart: with a ping per write, each would get its own ping, answered long before the next.
            for sequence in 0..<10 {
                try await h.publish(carol.userId, sequence..<(sequence + 1))
                try await Task.sleep(for: .milliseconds(100))
            }
            _ = try await client.waitForLine("IDS", timeoutSeconds: 60)
            let report = RawReport(client.log)
            #expect(report.received == 10, "\(client.log)")
            #expect(report.duplicates == 0)
            #expect((1...3).contains(report.pings), "\(report.pings) pings for 10 updates written within about a second")
            // The client lingered past the delay and answered: nothing is left unacked or ready for a later socket.
            let queued = try await h.settledQueue(of: carol.userId)
            #expect(queued.ready == 0, "updates not acked although their receipt came: \(queued)")
        }
    }

    /// `chatd_socket_sessions_closed_total{reason="outbox_overflow"}` in a metrics page.
    static func overflowCuts(_ page: String) -> Int {
        let name = #"chatd_socket_sessions_closed_total{reason="outbox_overflow"} "#
        return page.split(separator: "\n").first { $0.hasPrefix(name) }.flatMap { Int($0.dropFirst(name.count)) } ?? 0
    }

    @Test("a polling tab that closes its held GET: the watcher in the dialog room gets user:offline within 1 s")
    func pollingTabClose() async throws {
        let membership = MembershipDouble()
        let h = try await DeliveryHarness(membership: membership)
        defer { Task { await h.cleanUp() } }
        let (watcher, watcherToken) = try await h.realTime.user("Wanda", phone: "79000000103")
        let (tab, tabToken) = try await h.realTime.user("Tom", phone: "79000000104")
        membership.add(watcher.userId, to: RealTimeHarness.dialog)
        membership.add(tab.userId, to: RealTimeHarness.dialog)
        try await h.live { port in
            let client = try ScriptedSocketClient(url: "http://127.0.0.1:\(port)", token: watcherToken)
            defer { Task { await client.stop() } }
            _ = try await client.waitFor { $0["connected"] == true }
            client.emit("dialog:join", .string(RealTimeHarness.dialog), ack: true)
            _ = try await client.waitFor { $0["ack"] == "dialog:join" }
            let polling = try h.raw(["close-poll", "--port", "\(port)", "--token", tabToken,
                                     "--dialog", RealTimeHarness.dialog], name: "tab")
            defer { Task { await polling.stop(signal: SIGKILL) } }
            _ = try await client.waitForEvent("user:online") { $0["userId"]?.stringValue == tab.userId.rawValue }
            let closedAt = try #require(Double(try await polling.waitForLine("CLOSED ([0-9.]+)")))
            _ = try await client.waitForEvent("user:offline", timeout: 10) { $0["userId"]?.stringValue == tab.userId.rawValue }
            let seenAfter = Date().timeIntervalSince1970 - closedAt
            #expect(seenAfter < 1.0, "user:offline \(seenAfter) s after the tab closed")
            #expect(await h.hub.isOnline(tab.userId) == false)
        }
    }

    @Test("connection-state recovery: after an RST a client resuming with {pid, offset} is told it recovered, keeps its socket id and room, and gets the packets it missed exactly once, in order")
    func recoveryAfterAbruptDrop() async throws {
        let membership = MembershipDouble()
        let h = try await DeliveryHarness(membership: membership)
        defer { Task { await h.cleanUp() } }
        let (cara, token) = try await h.realTime.user("Cara", phone: "79000000105")
        membership.add(cara.userId, to: RealTimeHarness.dialog)
        let drop = h.directory.path("drop"), resume = h.directory.path("resume")
        try await h.live { port in
            let client = try h.raw(["recover", "--port", "\(port)", "--token", token, "--dialog", RealTimeHarness.dialog,
                                    "--expect", "5", "--idle", "8", "--drop-file", drop, "--resume-file", resume],
                                   name: "recover")
            defer { Task { await client.stop(signal: SIGKILL) } }
            _ = try await client.waitForLine("CONNECTED")
            let socket = try #require(await h.hub.server.sockets(of: cara.userId).first)
            try await h.subscribed(cara.userId)
            try await h.publish(cara.userId, 0..<5)
            _ = try await client.waitForLine("READ 5")
            // Five more, written (and acked) into the socket while the client does not read: lost with
            // the connection unless the replay buffer brings them back.
            try await h.publish(cara.userId, 5..<10)
            try await waitUntil(seconds: 30) {
                h.realTime.services.metrics.render().contains("chatd_updates_delivered_total 10")
            }
            FileManager.default.createFile(atPath: drop, contents: nil)
            try await waitUntil(seconds: 10) { await h.hub.server.sockets(of: cara.userId).isEmpty }
            FileManager.default.createFile(atPath: resume, contents: nil)
            _ = try await client.waitForLine("RECOVERED", timeoutSeconds: 60)
            // Still connected here (the client reads until 8 s of quiet): the room came back with it.
            #expect(await h.hub.server.sockets(in: "dialog:" + RealTimeHarness.dialog) == [socket])
            _ = try await client.waitForLine("IDS", timeoutSeconds: 60)
            let log = client.log
            #expect(log.contains("RECOVERED true SID \(socket.rawValue)"), "\(log)")
            let report = RawReport(String(log[log.range(of: "RECOVERED")!.lowerBound...]))
            // In the order they were published (the replay buffer keeps the send order).
            #expect(report.ids == (5..<10).map { "msg_\(String(format: "%020d", $0))" }, "\(log)")
            #expect(report.duplicates == 0, "\(log)")
        }
    }
}
