import ChatCore
import ChatDaemon
import Foundation
import Testing
import TestSupport

/// Per-socket relay limits (issue 13) with the real python-socketio client, in-process so membership
/// can be decided by the test.
@Suite("Real-time relay limits", .serialized)
struct RealTimeLimitsTests {
    static func limitHits(_ h: RealTimeHarness, _ limit: String) -> Int {
        let prefix = "chatd_limit_hits_total{limit=\"\(limit)\"} "
        let line = h.services.metrics.render().split(separator: "\n").first { $0.hasPrefix(prefix) }
        return line.flatMap { Int(Double($0.dropFirst(prefix.count)) ?? 0) } ?? 0
    }

    static func connect(_ port: Int, _ token: String) async throws -> ScriptedSocketClient {
        let client = try ScriptedSocketClient(url: "http://127.0.0.1:\(port)", token: token, transports: "websocket")
        try await client.waitFor { $0["connected"] == true }
        return client
    }

    static func acks(_ client: ScriptedSocketClient, _ event: String) -> [JSONValue] {
        client.received.filter { $0["ack"]?.stringValue == event }.compactMap { $0["data"] }
    }

    @Test("typing:start emitted 30 times in a burst reaches the other member once per socketio.typing_interval")
    func typingThrottled() async throws {
        let membership = MembershipDouble()
        // An interval longer than the burst can take on a loaded machine.
        let h = try await RealTimeHarness(membership: membership, typingInterval: .seconds(120))
        defer { Task { await h.cleanUp() } }
        let (ann, annToken) = try await h.user("Ann", phone: "79000000001")
        let (bob, bobToken) = try await h.user("Bob", phone: "79000000002")
        membership.add(ann.userId, to: RealTimeHarness.dialog)
        membership.add(bob.userId, to: RealTimeHarness.dialog)
        try await h.live { port in
            let a = try await Self.connect(port, annToken)
            let b = try await Self.connect(port, bobToken)
            defer { Task { await a.stop(); await b.stop() } }
            for client in [a, b] {
                client.emit("dialog:join", .string(RealTimeHarness.dialog), ack: true)
                try await client.waitFor { $0["ack"]?.stringValue == "dialog:join" }
            }
            for _ in 0..<30 { a.emit("typing:start", ["dialogId": .string(RealTimeHarness.dialog)]) }
            try await waitUntil(seconds: 20) { Self.limitHits(h, "typing_relay") == 29 }
            _ = try await b.waitForEvent("typing:start")
            // typing:update is emitted right after typing:start; on a loaded machine it may arrive a moment later.
            _ = try await b.waitForEvent("typing:update")
            #expect(b.events("typing:start").count == 1)
            #expect(b.events("typing:update").count == 1)
            // The socket itself is fine: its next event is answered.
            a.emit("dialog:leave", .string(RealTimeHarness.dialog), ack: true)
            try await a.waitFor { $0["ack"]?.stringValue == "dialog:leave" }
        }
    }

    @Test("a refused join is remembered for socketio.membership_refusal_ttl: asking again does not reach Chat3")
    func refusalCached() async throws {
        let membership = MembershipDouble()
        let h = try await RealTimeHarness(membership: membership)
        defer { Task { await h.cleanUp() } }
        let (_, annToken) = try await h.user("Ann", phone: "79000000001")
        try await h.live { port in
            let a = try await Self.connect(port, annToken)
            defer { Task { await a.stop() } }
            for round in 1...5 {
                a.emit("dialog:join", .string(RealTimeHarness.deniedDialog), ack: true)
                try await waitUntil(seconds: 20) { Self.acks(a, "dialog:join").count == round }
            }
            #expect(Self.acks(a, "dialog:join").allSatisfy { $0 == ["ok": false, "code": "forbidden"] },
                    "\(Self.acks(a, "dialog:join"))")
            #expect(membership.asked.load(ordering: .relaxed) == 1)
            #expect(Self.limitHits(h, "membership_refusal_cached") == 4)
        }
    }
}
