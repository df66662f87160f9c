import ChatCore
import Foundation
import HummingbirdWSClient
import Logging
import SocketIO
import Synchronization

/// Many Socket.IO clients over WebSocket, one per benchmark user, and what they observed.
///
/// Each client speaks just enough Engine.IO 4 / Socket.IO 5: waits for the open packet, sends
/// CONNECT with `{"token": …}`, answers pings, and records `message:new` events whose `content` is a
/// send time from `UpdateFactory`.
final class SocketFleet: Sendable, ClientFleet {
    struct State {
        var connected = 0
        var connectedUsers: [String] = []
        var failed = 0
        var failureReasons: [String: Int] = [:]
        var closedAfterConnect = 0
        var connectLatencies: [UInt64] = []
        var lastConnectAt: UInt64 = 0
        var delivered = 0
        var duplicates = 0
        var seen: [Bool] = []
        var latencies: [UInt64] = []
        var firstDeliveryAt: UInt64 = 0
        var lastDeliveryAt: UInt64 = 0
        var otherEvents = 0
        var staleEvents = 0
    }

    let endpoint: String
    /// Only `message:new` events of this run (`meta.benchRun`) are counted; others are `staleEvents`.
    let runId: UInt32
    private let state = Mutex(State())
    private let logger: Logger

    /// `chatd`: the server's base URL, http://host:port.
    init(chatd: String, runId: UInt32 = 0) throws {
        self.runId = runId
        guard var components = URLComponents(string: chatd), let scheme = components.scheme,
              ["http", "ws"].contains(scheme), components.host != nil else {
            throw BenchError.badInput("--chatd '\(chatd)' is not an http:// URL")
        }
        components.scheme = "ws"
        components.path = "/socket.io/"
        components.query = "EIO=4&transport=websocket"
        endpoint = components.string!
        var logger = Logger(label: "chatbench.ws")
        logger.logLevel = .critical
        self.logger = logger
    }

    func snapshot() -> State { state.withLock { $0 } }

    func counts() -> (connected: Int, failed: Int) { state.withLock { ($0.connected, $0.failed) } }

    /// Sizes the record of which sequence numbers arrived.
    func expect(updates count: Int) {
        state.withLock { $0.seen = Array(repeating: false, count: count) }
    }

    /// Starts a client for `user`; returns at once. The client lives until the process exits.
    func launch(_ user: BenchUser) {
        let endpoint = endpoint, logger = logger
        Task {
            let started = monotonicNanoseconds()
            let client = WebSocketClient(url: endpoint, configuration: .init(maxFrameSize: 1 << 20), logger: logger) {
                inbound, outbound, _ in
                var connected = false
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    guard case .text(let text) = message else { continue }
                    let bytes = text.utf8
                    guard let first = bytes.first else { continue }
                    switch first {
                    case UInt8(ascii: "0"): // Engine.IO open → Socket.IO CONNECT with the token
                        try await outbound.write(.text("40{\"token\":\"\(user.token)\"}"))
                    case UInt8(ascii: "2"): // Engine.IO ping
                        try await outbound.write(.text("3"))
                    case UInt8(ascii: "1"): // Engine.IO close
                        return
                    case UInt8(ascii: "4"):
                        if text.hasPrefix("42") {
                            self.event(text.utf8.dropFirst(2))
                        } else if text.hasPrefix("40") {
                            connected = true
                            self.connected(user.userId, startedAt: started)
                        } else if text.hasPrefix("44") {
                            self.failed(reason: "connect_error")
                            return
                        } else if text.hasPrefix("41") {
                            break
                        }
                    default:
                        break
                    }
                }
                if connected { self.closed() }
            }
            do {
                try await client.run()
            } catch {
                self.failed(reason: "\(type(of: error))")
            }
        }
    }

    private func connected(_ userId: String, startedAt: UInt64) {
        let now = monotonicNanoseconds()
        state.withLock {
            $0.connected += 1
            $0.connectedUsers.append(userId)
            $0.connectLatencies.append(now - startedAt)
            $0.lastConnectAt = now
        }
    }

    private func failed(reason: String) {
        state.withLock {
            $0.failed += 1
            $0.failureReasons[reason, default: 0] += 1
        }
    }

    private func closed() {
        state.withLock { $0.closedAfterConnect += 1 }
    }

    private static let messageNewPrefix = Array("[\"message:new\"".utf8)

    /// `["message:new",{…"messageId":"msg_b<seq>"…"content":"<sent ns>"…}]`; other events are counted.
    private func event(_ payload: Substring.UTF8View) {
        guard payload.starts(with: Self.messageNewPrefix) else {
            state.withLock { $0.otherEvents += 1 }
            return
        }
        let now = monotonicNanoseconds()
        guard let sentAt = JSONScan.number(after: "content", in: payload),
              let sequence = JSONScan.number(after: "messageId", in: payload) else {
            state.withLock { $0.otherEvents += 1 }
            return
        }
        if JSONScan.number(after: "benchRun", in: payload) != UInt64(runId) {
            state.withLock { $0.staleEvents += 1 }
            return
        }
        state.withLock {
            let index = Int(sequence)
            if index < $0.seen.count {
                if $0.seen[index] { $0.duplicates += 1; return }
                $0.seen[index] = true
            }
            $0.delivered += 1
            $0.latencies.append(now >= sentAt ? now - sentAt : 0)
            if $0.firstDeliveryAt == 0 { $0.firstDeliveryAt = now }
            $0.lastDeliveryAt = now
        }
    }
}

/// Clients of one transport, launched one per user; what `connectAll` needs of a fleet.
protocol ClientFleet: Sendable {
    var endpoint: String { get }
    /// Starts a client for `user`; returns at once. The client lives until the process exits.
    func launch(_ user: BenchUser)
    func snapshot() -> SocketFleet.State
    func counts() -> (connected: Int, failed: Int)
}

extension ClientFleet {
    /// Launches one client per user, at most `concurrency` handshakes in flight, and waits until every
    /// client has connected or failed (or `timeout` passes). Returns the seconds it took.
    func connectAll(_ users: [BenchUser], concurrency: Int, timeout: Double) async -> Double {
        let start = monotonicNanoseconds()
        let deadline = start + UInt64(timeout * 1e9)
        var launched = 0
        var lastReport = start
        while true {
            let (connected, failed) = counts()
            let settled = connected + failed
            while launched < users.count, launched - settled < concurrency {
                launch(users[launched])
                launched += 1
            }
            let now = monotonicNanoseconds()
            if settled >= users.count || now >= deadline { break }
            if now - lastReport >= 2_000_000_000 {
                Progress.say("connected \(connected)/\(users.count), failed \(failed)")
                lastReport = now
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        let snapshot = snapshot()
        let end = snapshot.connected + snapshot.failed >= users.count ? max(snapshot.lastConnectAt, start) : monotonicNanoseconds()
        return Double(end - start) / 1e9
    }
}
