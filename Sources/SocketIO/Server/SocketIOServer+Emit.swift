import ChatCore
import Synchronization

extension SocketIOServer {
    /// Emits an event to a socket, a user's sockets or a room. The frame is encoded once for all
    /// recipients.
    public func emit(_ event: String, _ arguments: [JSONValue] = [], to target: SocketIOTarget) {
        let sockets = registry.resolve(target)
        guard !sockets.isEmpty else { return }
        let frame = SocketIOFrame.event(event, arguments)
        for socket in sockets { sendFrame(recoverableFrame(event, arguments, shared: frame, for: socket).frame, to: socket) }
    }

    /// Emits events, in order, to a socket, a user's sockets or a room, and reports once whether every
    /// socket reached got them: `whenWritten(true)` when each has them (a polling client asked again after
    /// the answer carrying them; a WebSocket client answered a ping sent after them, or, with recovery,
    /// the writer took them), `whenWritten(false)` when one socket's session ended first. Returns how
    /// many sockets it reached; with none, `whenWritten` is never called.
    public func emit(
        _ events: [(event: String, arguments: [JSONValue])], to target: SocketIOTarget,
        whenWritten: @escaping FrameWritten
    ) -> Int {
        emit(events, to: target, skipping: []) { outcome in whenWritten(outcome.allWrote) }.reached
    }

    /// `emit(_:to:whenWritten:)` that leaves out the sockets in `skipping` (they have the events
    /// already) and reports which sockets got them. `alreadyHad` counts the target's sockets skipped.
    public func emit(
        _ events: [(event: String, arguments: [JSONValue])], to target: SocketIOTarget, skipping: Set<SocketID>,
        whenDone: @escaping @Sendable (EmitOutcome) -> Void
    ) -> (reached: Int, alreadyHad: Int) {
        let all = registry.resolve(target)
        let sockets = skipping.isEmpty ? all : all.filter { !skipping.contains($0) }
        let alreadyHad = all.count - sockets.count
        guard !sockets.isEmpty, !events.isEmpty else { return (0, alreadyHad) }
        let frames = events.map { SocketIOFrame.event($0.event, $0.arguments) }
        let receipt = WriteReceipt(sockets: sockets.count, whenDone)
        for socket in sockets {
            // Frames of a session leave in order, so the last one's outcome stands for all.
            var offsets: [UInt64] = []
            for (index, event) in events.enumerated() {
                let (frame, offset) = recoverableFrame(event.event, event.arguments, shared: frames[index], for: socket)
                if let offset { offsets.append(offset) }
                if index < events.count - 1 {
                    sendFrame(frame, to: socket)
                } else if offsets.isEmpty {
                    sendFrame(frame, to: socket, whenWritten: { receipt.settle(socket, $0) })
                } else {
                    sendFrame(frame, to: socket, whenWritten: { [offsets] written in
                        if !written { Task { await self.forgetReplayed(offsets, of: socket) } }
                        receipt.settle(socket, written)
                    })
                }
            }
        }
        return (sockets.count, alreadyHad)
    }

    /// Emits an event to one socket and waits for the client's acknowledgement.
    public func emitWithAck(
        _ event: String, _ arguments: [JSONValue] = [], to socket: SocketID, timeout: Duration
    ) async throws(SocketIOAckError) -> [JSONValue] {
        guard registry.sockets[socket] != nil else { throw .unknownSocket }
        let deadline = clock() + timeout
        let result = await withCheckedContinuation { continuation in
            let id = acks.register(socket: socket, deadline: deadline, continuation: continuation)
            sendFrame(SocketIOFrame.event(event, arguments, ackID: id), to: socket)
        }
        return try result.get()
    }

    /// Sends an already-encoded Engine.IO frame (see `SocketIOFrame`) to one socket; `whenWritten`
    /// learns whether it reached the transport (see `emit(_:to:whenWritten:)`).
    public func sendFrame(_ frame: String, to socket: SocketID, whenWritten: FrameWritten? = nil) {
        guard let sid = registry.sockets[socket]?.sessionID, sessions[sid] != nil,
              sessions[sid]!.engine.acceptsPackets
        else {
            whenWritten?(false)
            return
        }
        var tag: UInt64 = 0
        if let whenWritten {
            tag = makeToken()
            sessions[sid]!.tracked[tag] = whenWritten
        }
        if sessions[sid]!.heldFrames != nil {
            sessions[sid]!.heldFrames!.append((frame, tag))
            return
        }
        perform(sessions[sid]!.engine.send(frame, tracking: tag, now: tag == 0 ? nil : clock()), sid: sid)
    }

    @discardableResult
    public func join(_ socket: SocketID, room: String) -> Bool {
        registry.join(socket, room: room)
    }

    public func leave(_ socket: SocketID, room: String) {
        registry.leave(socket, room: room)
    }

    /// Disconnects a socket from the server side: the client gets DISCONNECT (and does not reconnect),
    /// then its connection closes.
    public func disconnect(_ socket: SocketID) {
        guard let sid = registry.sockets[socket]?.sessionID else { return }
        send(SocketIOPacket(.disconnect), sid: sid)
        sessions[sid]?.namespace = .idle
        socketGone(socket)
        close(sid: sid)
    }

    /// Disconnects every socket of a user, e.g. when the user is disabled.
    public func disconnect(user: UserID) {
        for socket in registry.sockets(of: user) { disconnect(socket) }
    }
}

/// What one tracked emit came to: the sockets that have its events, and whether every socket reached does.
public struct EmitOutcome: Sendable, Hashable {
    public var wrote: Set<SocketID>
    public var allWrote: Bool
}

/// Collects the write outcomes of one emit's sockets and reports once, when each has settled.
final class WriteReceipt: Sendable {
    private let state: Mutex<(remaining: Int, outcome: EmitOutcome)>
    private let done: @Sendable (EmitOutcome) -> Void

    init(sockets: Int, _ done: @escaping @Sendable (EmitOutcome) -> Void) {
        state = Mutex((sockets, EmitOutcome(wrote: [], allWrote: true)))
        self.done = done
    }

    func settle(_ socket: SocketID, _ written: Bool) {
        let outcome: EmitOutcome? = state.withLock { state in
            guard state.remaining > 0 else { return nil }
            state.remaining -= 1
            if written { state.outcome.wrote.insert(socket) } else { state.outcome.allWrote = false }
            return state.remaining == 0 ? state.outcome : nil
        }
        if let outcome { done(outcome) }
    }
}
