import SocketIO

/// A bare Engine.IO server that sends every message back to its sender, text as text and bytes as
/// bytes: the server socket.io's Engine.IO protocol test suite expects at `/engine.io/`. The protocol
/// itself is the library's `EngineIOSession`; this actor only keeps the sessions and performs effects.
public actor EngineIOEchoServer: EngineIOEndpoint {
    public struct Connection: Sendable, Hashable {
        let sid: String
        let generation: UInt64
    }

    private struct Record {
        var engine: EngineIOSession
        var poll: (token: UInt64, continuation: CheckedContinuation<Result<String, EngineIORequestError>, Never>)?
        var webSocket: (any EngineIOWebSocketWriter)?
        var generation: UInt64 = 0
    }

    public let configuration: EngineIOConfiguration
    private var sessions: [String: Record] = [:]
    private var lastToken: UInt64 = 0
    private var lastSession: UInt64 = 0

    public init(configuration: EngineIOConfiguration) {
        self.configuration = configuration
    }

    public func openPollingSession(headers: [String: String], address: String? = nil) throws(EngineIORequestError) -> String {
        let sid = newSessionID()
        sessions[sid] = Record(engine: EngineIOSession(
            sid: sid, transport: .polling, configuration: configuration, now: .now))
        return EngineIOSession.openPacket(sid: sid, transport: .polling, configuration: configuration)
    }

    /// The echo keeps a session whose GET connection closed until its ping timeout (the suites ask no more).
    public func poll(
        sid: String, onConnectionClose: (@Sendable (@escaping @Sendable () -> Void) -> Void)? = nil
    ) async throws(EngineIORequestError) -> String {
        guard sessions[sid] != nil else { throw .unknownSessionID }
        lastToken += 1
        let token = lastToken
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                beginPoll(sid: sid, token: token, continuation: continuation)
            }
        } onCancel: {
            Task { await self.cancelPoll(sid: sid, token: token) }
        }
        return try result.get()
    }

    private func beginPoll(
        sid: String, token: UInt64, continuation: CheckedContinuation<Result<String, EngineIORequestError>, Never>
    ) {
        guard sessions[sid] != nil else { return continuation.resume(returning: .failure(.unknownSessionID)) }
        let transition = sessions[sid]!.engine.poll(now: .now)
        if let rejection = transition.rejection {
            perform(transition.effects, sid: sid)
            return continuation.resume(returning: .failure(rejection))
        }
        sessions[sid]!.poll = (token, continuation)
        perform(transition.effects, sid: sid)
    }

    private func cancelPoll(sid: String, token: UInt64) {
        guard let waiter = sessions[sid]?.poll, waiter.token == token else { return }
        sessions[sid]?.poll = nil
        sessions[sid]?.engine.pollCancelled()
        waiter.continuation.resume(returning: .success(EngineIOPacket(.noop).encoded))
    }

    public func post(sid: String, body: String) async throws(EngineIORequestError) {
        guard sessions[sid] != nil else { throw .unknownSessionID }
        let transition = sessions[sid]!.engine.post(body, now: .now)
        perform(transition.effects, sid: sid)
        if let rejection = transition.rejection { throw rejection }
        sessions[sid]?.engine.postFinished()
    }

    public func close(sid: String) {
        guard sessions[sid] != nil else { return }
        perform(sessions[sid]!.engine.close(now: .now), sid: sid)
    }

    public func sessionState(sid: String) -> EngineIOSession.State? { sessions[sid]?.engine.state }

    public func attachWebSocket(
        sid: String?, headers: [String: String], writer: any EngineIOWebSocketWriter, address: String? = nil
    ) throws(EngineIORequestError) -> Connection {
        lastToken += 1
        guard let sid else {
            let sid = newSessionID()
            var record = Record(engine: EngineIOSession(
                sid: sid, transport: .websocket, configuration: configuration, now: .now))
            record.webSocket = writer
            record.generation = lastToken
            sessions[sid] = record
            writer.write(EngineIOSession.openPacket(sid: sid, transport: .websocket, configuration: configuration))
            return Connection(sid: sid, generation: lastToken)
        }
        guard sessions[sid] != nil else { throw .unknownSessionID }
        let transition = sessions[sid]!.engine.attachWebSocket(now: .now)
        if let rejection = transition.rejection { throw rejection }
        sessions[sid]!.webSocket = writer
        sessions[sid]!.generation = lastToken
        return Connection(sid: sid, generation: lastToken)
    }

    public func receive(_ text: String, on connection: Connection) async {
        guard isCurrent(connection) else { return }
        perform(sessions[connection.sid]!.engine.webSocketText(text, now: .now), sid: connection.sid)
    }

    public func receive(binary bytes: [UInt8], on connection: Connection) async {
        guard isCurrent(connection) else { return }
        perform(sessions[connection.sid]!.engine.webSocketBinary(bytes, now: .now), sid: connection.sid)
    }

    public func webSocketClosed(_ connection: Connection) {
        guard isCurrent(connection) else { return }
        sessions[connection.sid]!.webSocket = nil
        perform(sessions[connection.sid]!.engine.webSocketClosed(), sid: connection.sid)
    }

    public func sweep() {
        let now = ContinuousClock.now
        for sid in Array(sessions.keys) {
            guard let deadline = sessions[sid]?.engine.nextDeadline, deadline <= now else { continue }
            perform(sessions[sid]!.engine.tick(now: now), sid: sid)
        }
    }

    /// Sweeps until cancelled; `interval` is the resolution of every heartbeat timer.
    public func run(interval: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            sweep()
        }
    }

    public var sessionCount: Int { sessions.count }

    // MARK: Helpers

    private func isCurrent(_ connection: Connection) -> Bool {
        guard let record = sessions[connection.sid] else { return false }
        return record.webSocket != nil && record.generation == connection.generation
    }

    private func newSessionID() -> String {
        lastSession += 1
        return "echo\(lastSession)-\(UInt64.random(in: 0...UInt64.max))"
    }

    private func perform(_ effects: [EngineIOEffect], sid: String) {
        for effect in effects {
            switch effect {
            case .respondToPoll(let body, _):
                if let waiter = sessions[sid]?.poll {
                    sessions[sid]?.poll = nil
                    waiter.continuation.resume(returning: .success(body))
                }
            case .writeWebSocket(let text, _):
                sessions[sid]?.webSocket?.write(text)
            case .closeWebSocket:
                sessions[sid]?.webSocket?.close()
                sessions[sid]?.webSocket = nil
            case .received:
                break // the echo server tracks nothing
            case .deliver(let data):
                // The echo: the same message back, bytes as bytes.
                let packet = switch data {
                case .text(let text): EngineIOPacket(.message, text)
                case .binary(let bytes): EngineIOPacket(binary: bytes)
                }
                perform(sessions[sid]?.engine.send(packet.encoded) ?? [], sid: sid)
            case .closed:
                guard let record = sessions.removeValue(forKey: sid) else { continue }
                record.poll?.continuation.resume(returning: .success(EngineIOPacket(.close).encoded))
                record.webSocket?.close()
            }
        }
    }
}
