import ChatCore
import Foundation
import HummingbirdWSClient
import Logging
import SocketIO
import SocketIOConformance
import Synchronization
import TestSupport

/// The conformance server, in process on a free port, for the duration of one test.
struct ConformanceFixture {
    let port: Int
    var base: String { "http://127.0.0.1:\(port)" }
    func engine(_ query: String) -> String { "\(base)/engine.io/?\(query)" }
    func socketIO(_ query: String) -> String { "\(base)/socket.io/?\(query)" }
    func webSocket(_ path: String, _ query: String = "EIO=4&transport=websocket") -> String {
        "ws://127.0.0.1:\(port)\(path)/?\(query)"
    }

    /// The suites' heartbeat (ping 300 ms, pong within 200 ms): for the tests about the heartbeat itself.
    static let suite = ConformanceServer.engine
    /// Pings every 300 ms but 10 s to answer, so a test on a loaded machine keeps its session.
    static let lenient = EngineIOConfiguration(pingInterval: .milliseconds(300), pingTimeout: .seconds(10))
    /// No ping during a test: for exact payload comparisons over polling.
    static let quiet = EngineIOConfiguration(pingInterval: .seconds(60), pingTimeout: .seconds(60))

    static func with(_ engine: EngineIOConfiguration = quiet, _ body: (ConformanceFixture) async throws -> Void) async throws {
        let ready = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "conformance-test")
        // Cancelling the server at the end of each test logs shutdown noise at error level.
        logger.logLevel = .critical
        let server = Task { [logger] in
            try await ConformanceServer(engine: engine, ackTimeout: .seconds(10)).run(port: 0, logger: logger) { port in
                ready.continuation.yield(port)
            }
        }
        defer { server.cancel() }
        var ports = ready.stream.makeAsyncIterator()
        guard let port = await ports.next() else { throw FixtureError.notStarted }
        try await body(ConformanceFixture(port: port))
    }

    /// Opens an Engine.IO polling session; returns its sid.
    func openPolling(_ path: String = "/engine.io") async throws -> String {
        let response = try await HTTPTestClient.send("GET", "\(base)\(path)/?EIO=4&transport=polling")
        guard response.status == 200, response.text.hasPrefix("0"),
              let sid = try JSONValue.parse(String(response.text.dropFirst()))["sid"]?.stringValue
        else { throw FixtureError.badHandshake(response.text) }
        return sid
    }

    func get(_ url: String) async throws -> HTTPResult { try await HTTPTestClient.send("GET", url) }
    func post(_ url: String, _ body: String) async throws -> HTTPResult {
        try await HTTPTestClient.send("POST", url, body: Data(body.utf8))
    }
}

enum FixtureError: Error {
    case notStarted
    case badHandshake(String)
    case timedOut(waitingFor: String, seen: [WireSocket.Frame])
    case notConnected
}

/// A raw WebSocket client that records every frame, so a test sees the server's packets exactly.
final class WireSocket: Sendable {
    enum Frame: Sendable, Hashable {
        case text(String)
        case binary([UInt8])
    }

    private struct State {
        var frames: [Frame] = []
        var consumed = 0
        var closed = false
        var writer: WebSocketOutboundWriter?
    }

    /// A class, so the client task and the test share one lock.
    private final class Recorder: Sendable {
        let state = Mutex(State())
    }

    private let recorder = Recorder()
    private let task: Task<Void, Never>

    /// - Parameter answerPings: pong every ping as soon as it arrives (the tests about the heartbeat
    ///   answer them themselves, or not at all).
    init(_ url: String, answerPings: Bool = true) {
        let recorder = self.recorder
        task = Task {
            let client = WebSocketClient(url: url, configuration: .init(maxFrameSize: 1 << 21),
                                         logger: Logger(label: "wire-socket")) { inbound, outbound, _ in
                recorder.state.withLock { $0.writer = outbound }
                for try await message in inbound.messages(maxSize: 1 << 21) {
                    let frame: Frame = switch message {
                    case .text(let text): .text(text)
                    case .binary(let buffer): .binary(Array(buffer.readableBytesView))
                    }
                    recorder.state.withLock { $0.frames.append(frame) }
                    if answerPings, frame == .text("2") { try await outbound.write(.text("3")) }
                }
            }
            _ = try? await client.run()
            recorder.state.withLock { $0.closed = true }
        }
    }

    deinit { task.cancel() }

    var isClosed: Bool { recorder.state.withLock { $0.closed } }

    /// The next frame not yet consumed, skipping pings unless asked for; waits up to `timeout`.
    func next(skippingPings: Bool = true, timeout: Duration = .seconds(10)) async throws -> Frame {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let frame: Frame? = recorder.state.withLock { state in
                while state.consumed < state.frames.count {
                    let frame = state.frames[state.consumed]
                    state.consumed += 1
                    if skippingPings && frame == .text("2") { continue }
                    return frame
                }
                return nil
            }
            if let frame { return frame }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw FixtureError.timedOut(waitingFor: "a frame", seen: recorder.state.withLock { $0.frames })
    }

    func nextText(skippingPings: Bool = true) async throws -> String {
        let frame = try await next(skippingPings: skippingPings)
        guard case .text(let text) = frame else {
            throw FixtureError.timedOut(waitingFor: "a text frame", seen: [frame])
        }
        return text
    }

    /// Waits until the server closed the connection.
    func waitClosed(timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if isClosed { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw FixtureError.timedOut(waitingFor: "close", seen: recorder.state.withLock { $0.frames })
    }

    func send(_ text: String) async throws {
        try await writer().write(.text(text))
    }

    func send(binary bytes: [UInt8]) async throws {
        try await writer().write(.binary(.init(bytes: bytes)))
    }

    func close() async {
        try? await writer().close(.normalClosure, reason: nil)
        task.cancel()
    }

    private func writer() async throws -> WebSocketOutboundWriter {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let writer = recorder.state.withLock({ $0.writer }) { return writer }
            if isClosed { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw FixtureError.notConnected
    }
}
