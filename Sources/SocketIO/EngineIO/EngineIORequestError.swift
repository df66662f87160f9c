import ChatCore
/// Why the server refused an Engine.IO HTTP request. `httpStatus` and `body` are what the reference
/// server answers, e.g. 400 `{"code":1,"message":"Session ID unknown"}`.
public enum EngineIORequestError: Error, Sendable, Hashable {
    case unknownTransport
    case unknownSessionID
    case badHandshakeMethod
    case badRequest
    case forbidden
    case unsupportedProtocolVersion
    case payloadTooLarge
    /// A polling POST with more packets than `maxPacketsPerPost`.
    case tooManyPackets
    /// The server's session cap (`maxSessions`).
    case tooManySessions
    /// The per-address session cap (`maxSessionsPerAddress`).
    case tooManySessionsFromAddress

    /// The reference server's numeric error code.
    public var code: Int {
        switch self {
        case .unknownTransport: 0
        case .unknownSessionID: 1
        case .badHandshakeMethod: 2
        case .badRequest, .payloadTooLarge, .tooManyPackets: 3
        case .forbidden, .tooManySessions, .tooManySessionsFromAddress: 4
        case .unsupportedProtocolVersion: 5
        }
    }

    public var message: String {
        switch self {
        case .unknownTransport: "Transport unknown"
        case .unknownSessionID: "Session ID unknown"
        case .badHandshakeMethod: "Bad handshake method"
        case .badRequest: "Bad request"
        case .forbidden: "Forbidden"
        case .unsupportedProtocolVersion: "Unsupported protocol version"
        case .payloadTooLarge: "Payload too large"
        case .tooManyPackets: "Too many packets"
        case .tooManySessions: "Too many sessions"
        case .tooManySessionsFromAddress: "Too many sessions from this address"
        }
    }

    public var httpStatus: Int {
        switch self {
        case .forbidden: 403
        case .payloadTooLarge: 413
        case .tooManySessions: 503
        case .tooManySessionsFromAddress: 429
        default: 400
        }
    }

    /// The JSON response body.
    public var body: String {
        var json = JSONWriter()
        json.writeRaw("{\"code\":\(code),\"message\":")
        json.writeString(message)
        json.writeRaw("}")
        return json.text
    }
}
