import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Many Socket.IO clients over HTTP long-polling, one per benchmark user, each behaving as an idle
/// browser tab does: it always keeps one GET pending, answers the server's ping with a POSTed pong and
/// polls again. Used to measure what an idle polling session costs chatd.
///
/// Each client has one keep-alive connection and sends its requests on it one after another (the
/// pending GET returns before the pong is POSTed), so a session is one socket on chatd, as a
/// WebSocket client is.
final class PollingFleet: Sendable, ClientFleet {
    let endpoint: String
    private let target: HTTPTarget
    private let state = Mutex(SocketFleet.State())

    /// `chatd`: the server's base URL, http://host:port.
    init(chatd: String) throws {
        target = try HTTPTarget(chatd.hasSuffix("/") ? chatd + "socket.io/" : chatd + "/socket.io/")
        endpoint = "http://\(target.hostHeader)\(target.path)?EIO=4&transport=polling"
    }

    func snapshot() -> SocketFleet.State { state.withLock { $0 } }

    func counts() -> (connected: Int, failed: Int) { state.withLock { ($0.connected, $0.failed) } }

    /// Starts a client for `user`; returns at once. The client lives until the process exits.
    func launch(_ user: BenchUser) {
        let target = target
        Task {
            let started = monotonicNanoseconds()
            var connected = false
            do {
                let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connect(host: target.host, port: target.port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHTTPClientHandlers()
                            return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                                wrappingChannelSynchronously: channel)
                        }
                    }
                try await channel.executeThenClose { inbound, outbound in
                    var client = PollingExchange(target: target, responses: inbound.makeAsyncIterator(), outbound: outbound)
                    let open = try await client.get()
                    guard let first = open.first, first.hasPrefix("0"),
                          let sid = Self.sid(inOpenPacket: first) else {
                        throw BenchError.failed("no Engine.IO open packet")
                    }
                    client.sid = sid
                    try await client.post(["40{\"token\":\"\(user.token)\"}"])
                    // Poll forever: the pending GET is what an idle session is.
                    while true {
                        var pong = false
                        for packet in try await client.get() {
                            if packet == "2" {
                                pong = true
                            } else if packet == "1" {
                                throw PollingEnd.closedByServer
                            } else if packet.hasPrefix("40"), !connected {
                                connected = true
                                self.connected(user.userId, startedAt: started)
                            } else if packet.hasPrefix("44") {
                                throw PollingEnd.refused
                            }
                        }
                        if pong { try await client.post(["3"]) }
                    }
                }
            } catch PollingEnd.refused {
                failed(reason: "connect_error")
            } catch {
                if connected { closed() } else { failed(reason: "\(error)") }
            }
        }
    }

    private enum PollingEnd: Error {
        case refused
        case closedByServer
    }

    private static func sid(inOpenPacket packet: String) -> String? {
        guard let data = packet.dropFirst().data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return object["sid"] as? String
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
}

/// One polling client's requests on its keep-alive connection, one at a time.
private struct PollingExchange {
    let target: HTTPTarget
    var responses: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>
    var sid: String?

    private var path: String {
        target.path + "?EIO=4&transport=polling" + (sid.map { "&sid=\($0)" } ?? "")
    }

    /// A GET: the Engine.IO packets of its payload (separated by the record separator 0x1E).
    mutating func get() async throws -> [String] {
        let body = try await send(.GET, body: nil)
        return body.split(separator: "\u{1E}", omittingEmptySubsequences: true).map(String.init)
    }

    mutating func post(_ packets: [String]) async throws {
        let body = try await send(.POST, body: packets.joined(separator: "\u{1E}"))
        guard body == "ok" else { throw BenchError.failed("POST answered '\(body.prefix(80))'") }
    }

    private mutating func send(_ method: HTTPMethod, body: String?) async throws -> String {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "Host", value: target.hostHeader)
        if let body {
            head.headers.add(name: "Content-Type", value: "text/plain;charset=UTF-8")
            head.headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        }
        try await outbound.write(.head(head))
        if let body { try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body)))) }
        try await outbound.write(.end(nil))
        var status: UInt = 0
        var text = ""
        while let part = try await responses.next() {
            switch part {
            case .head(let response): status = response.status.code
            case .body(let buffer): text += String(buffer: buffer)
            case .end:
                guard status == 200 else { throw BenchError.failed("\(method) answered \(status)") }
                return text
            }
        }
        throw BenchError.failed("connection closed")
    }
}
