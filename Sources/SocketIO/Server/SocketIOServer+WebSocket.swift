extension SocketIOServer {
    /// A WebSocket connected. Without `sid` it opens a new session (the `open` packet is written at
    /// once); with `sid` it starts the upgrade of that polling session. On a thrown error the HTTP
    /// layer closes the WebSocket.
    public func attachWebSocket(
        sid: String?, headers: [String: String], writer: any EngineIOWebSocketWriter, address: String? = nil
    ) throws(EngineIORequestError) -> EngineIOWebSocketConnection {
        let generation = makeToken()
        guard let sid else {
            let sid = newSessionID()
            let engine = EngineIOSession(
                sid: sid, transport: .websocket, configuration: configuration.engine, now: clock())
            var record = SessionRecord(engine: engine, headers: headers)
            record.webSocket = writer
            record.webSocketGeneration = generation
            record.address = address
            try admit(record, sid: sid)
            writer.write(EngineIOSession.openPacket(sid: sid, transport: .websocket, configuration: configuration.engine))
            return EngineIOWebSocketConnection(sid: sid, generation: generation)
        }
        guard sessions[sid] != nil else { throw .unknownSessionID }
        let transition = sessions[sid]!.engine.attachWebSocket(now: clock())
        if let rejection = transition.rejection { throw rejection }
        sessions[sid]!.webSocket = writer
        sessions[sid]!.webSocketGeneration = generation
        return EngineIOWebSocketConnection(sid: sid, generation: generation)
    }

    /// A text frame. The HTTP layer awaits each call before passing the next frame, which keeps a
    /// session's messages in order.
    public func receive(_ text: String, on connection: EngineIOWebSocketConnection) async {
        guard isCurrent(connection) else { return }
        let effects = sessions[connection.sid]!.engine.webSocketText(text, now: clock())
        let messages = perform(effects, sid: connection.sid)
        // `upgrade` comes only after the client handled its last poll answer.
        if sessions[connection.sid]?.engine.state == .webSocket { confirmPollAnswers(sid: connection.sid) }
        await handleMessages(messages, sid: connection.sid)
    }

    /// A binary frame (an Engine.IO message carrying bytes).
    public func receive(binary bytes: [UInt8], on connection: EngineIOWebSocketConnection) async {
        guard isCurrent(connection) else { return }
        let effects = sessions[connection.sid]!.engine.webSocketBinary(bytes, now: clock())
        await handleMessages(perform(effects, sid: connection.sid), sid: connection.sid)
    }

    /// The WebSocket closed (by the peer or the network).
    public func webSocketClosed(_ connection: EngineIOWebSocketConnection) {
        guard isCurrent(connection) else { return }
        sessions[connection.sid]!.webSocket = nil
        perform(sessions[connection.sid]!.engine.webSocketClosed(), sid: connection.sid)
    }

    private func isCurrent(_ connection: EngineIOWebSocketConnection) -> Bool {
        guard let record = sessions[connection.sid] else { return false }
        return record.webSocket != nil && record.webSocketGeneration == connection.generation
    }
}
