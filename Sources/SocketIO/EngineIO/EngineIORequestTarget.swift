/// The Engine.IO transports.
public enum EngineIOTransport: String, Sendable, Hashable {
    case polling
    case websocket
}

/// What an Engine.IO request's query string asks for: `?EIO=4&transport=polling&sid=...`.
public struct EngineIORequestTarget: Sendable, Hashable {
    public var transport: EngineIOTransport
    /// Absent on the handshake request.
    public var sid: String?

    public init(transport: EngineIOTransport, sid: String?) {
        self.transport = transport
        self.sid = sid
    }

    /// Validates the query parameters the way the reference server does, protocol version first.
    public init(query: [String: String]) throws(EngineIORequestError) {
        guard query["EIO"] == "4" else { throw .unsupportedProtocolVersion }
        guard let name = query["transport"], let transport = EngineIOTransport(rawValue: name) else {
            throw .unknownTransport
        }
        self.transport = transport
        self.sid = query["sid"].flatMap { $0.isEmpty ? nil : $0 }
    }
}
