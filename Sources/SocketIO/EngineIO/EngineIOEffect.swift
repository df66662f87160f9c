/// What a session step asks its owner to do; the session itself performs no I/O.
public enum EngineIOEffect: Sendable, Hashable {
    /// Answer the pending polling GET with this body. `carrying` lists the tracked packets in it (see
    /// `EngineIOSession.send(_:tracking:)`): the client has them once it sends its next GET.
    case respondToPoll(String, carrying: [UInt64] = [])
    /// Send one text frame on the session's WebSocket; `carrying` is its tracking number, 0 if none.
    case writeWebSocket(String, carrying: UInt64 = 0)
    /// The client answered a ping sent after these tracked WebSocket packets: it has them.
    case received([UInt64])
    /// Close the session's WebSocket.
    case closeWebSocket
    /// Hand a `message` packet's data to the layer above (Socket.IO).
    case deliver(EngineIOPacketData)
    /// The session has ended; forget it.
    case closed(EngineIOCloseReason)
}

/// Why a session ended.
public enum EngineIOCloseReason: Sendable, Hashable {
    case pingTimeout
    /// The client sent a `close` packet.
    case clientRequested
    /// The server closed it (`close(sid:)`, or a Socket.IO disconnect).
    case serverRequested
    /// The WebSocket carrying the session went away.
    case transportClosed
    /// A second polling GET while one was pending.
    case overlappingPoll
    /// A second polling POST while one was being processed.
    case overlappingPost
    /// A body or frame over `maxPayload`.
    case payloadTooLarge
    /// A polling POST with more than `maxPacketsPerPost` packets.
    case tooManyPackets
    /// Something that is not an Engine.IO packet.
    case parseError(SocketIOProtocolError)
    /// The client fell behind: its unsent packets passed `maxBufferedBytes`.
    case outboxOverflow
    /// The connection of a held polling GET closed (the tab went away).
    case pollConnectionClosed
}

/// The result of one session step: effects to perform, and whether the request that caused the step
/// is refused (the HTTP layer answers it with `rejection`'s status and body).
public struct EngineIOTransition: Sendable, Hashable {
    public var effects: [EngineIOEffect]
    public var rejection: EngineIORequestError?

    public init(effects: [EngineIOEffect] = [], rejection: EngineIORequestError? = nil) {
        self.effects = effects
        self.rejection = rejection
    }
}
