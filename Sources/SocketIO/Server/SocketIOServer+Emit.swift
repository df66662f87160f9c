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
    /// socket reached got them: `whenWritten(true)` when each wrote them to its transport (a WebSocket
    /// writer took the frames; a polling client asked again after the answer carrying them),
    /// `whenWritten(false)` as soon as one socket's session ended first. Returns how many sockets it
    /// reached; with none, `whenWritten` is never called.
    public func emit(
        _ events: [(event: String, arguments: [JSONValue])], to target: SocketIOTarget,
        whenWritten: @escaping FrameWritten
    ) -> Int {
        let sockets = registry.resolve(target)
        guard !sockets.isEmpty, !events.isEmpty else { return 0 }
        let frames = events.map { SocketIOFrame.event($0.event, $0.arguments) }
        let receipt = WriteReceipt(sockets: sockets.count, whenWritten)
        for socket in sockets {
            // Frames of a session leave in order, so the last one's outcome stands for all.
            var offsets: [UInt64] = []
            for (index, event) in events.enumerated() {
                let (frame, offset) = recoverableFrame(event.event, event.arguments, shared: frames[index], for: socket)
                if let offset { offsets.append(offset) }
                if index < events.count - 1 {
                    sendFrame(frame, to: socket)
                } else if offsets.isEmpty {
                    sendFrame(frame, to: socket, whenWritten: { receipt.settle($0) })
                } else {
                    sendFrame(frame, to: socket, whenWritten: { [offsets] written in
                        if !written { Task { await self.forgetReplayed(offsets, of: socket) } }
                        receipt.settle(written)
                    })
                }
            }
        }
        return sockets.count
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
        perform(sessions[sid]!.engine.send(frame, tracking: tag), sid: sid)
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

/// Collects the write outcomes of one emit's sockets and reports once: written when all were.
final class WriteReceipt: Sendable {
    private let state: Mutex<(remaining: Int, allWritten: Bool)>
    private let done: FrameWritten

    init(sockets: Int, _ done: @escaping FrameWritten) {
        state = Mutex((sockets, true))
        self.done = done
    }

    func settle(_ written: Bool) {
        let outcome: Bool? = state.withLock { state in
            guard state.remaining > 0 else { return nil }
            state.remaining -= 1
            state.allWritten = state.allWritten && written
            return state.remaining == 0 ? state.allWritten : nil
        }
        if let outcome { done(outcome) }
    }
}
