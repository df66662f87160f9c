import ChatCore

extension SocketIOServer {
    /// Emits an event to a socket, a user's sockets or a room. The frame is encoded once for all
    /// recipients.
    public func emit(_ event: String, _ arguments: [JSONValue] = [], to target: SocketIOTarget) {
        let sockets = registry.resolve(target)
        guard !sockets.isEmpty else { return }
        let frame = SocketIOFrame.event(event, arguments)
        for socket in sockets { sendFrame(frame, to: socket) }
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

    /// Sends an already-encoded Engine.IO frame (see `SocketIOFrame`) to one socket.
    public func sendFrame(_ frame: String, to socket: SocketID) {
        guard let sid = registry.sockets[socket]?.sessionID, sessions[sid] != nil else { return }
        if sessions[sid]!.heldFrames != nil {
            sessions[sid]!.heldFrames!.append(frame)
            return
        }
        perform(sessions[sid]!.engine.send(frame), sid: sid)
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
