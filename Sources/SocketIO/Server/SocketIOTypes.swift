import ChatCore

/// A Socket.IO socket: one client's connection to one namespace (not the Engine.IO session id).
public struct SocketID: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
}

/// The application's name for a user, opaque to the library: the sockets of one key are one user's
/// (online with the first, offline with the last; `SocketIOTarget.user`). chatd maps its `UserID` to it.
public struct SocketIOUserKey: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Who a socket belongs to, as the authenticator established it.
public struct SocketUser: Sendable, Hashable {
    public var id: SocketIOUserKey
    public var name: String?
    /// The `jti` of the token the socket connected with, so a revocation can close exactly its sockets.
    public var tokenID: String?
    /// When that token expires (seconds since 1970): the socket is closed then.
    public var tokenExpiresAt: Double?

    public init(id: SocketIOUserKey, name: String? = nil, tokenID: String? = nil, tokenExpiresAt: Double? = nil) {
        self.id = id
        self.name = name
        self.tokenID = tokenID
        self.tokenExpiresAt = tokenExpiresAt
    }
}

/// The authenticator's verdict on a CONNECT.
public enum AuthResult: Sendable, Hashable {
    case authenticated(SocketUser)
    /// The client gets CONNECT_ERROR `{"message":"Authentication failed"}`.
    case rejected
}

/// An event a client emitted.
public struct SocketIOEvent: Sendable, Hashable {
    public var socket: SocketID
    public var user: SocketUser
    public var name: String
    /// As sent: binary values are placeholders `{"_placeholder":true,"num":N}` for `attachments[N]`.
    public var arguments: [JSONValue]
    /// The client passed a callback; the handler's reply is sent back as the ACK.
    public var wantsAck: Bool
    /// The socket's namespace (`/` unless the server serves others).
    public var namespace: String = SocketIOPacket.mainNamespace
    /// A BINARY_EVENT's attachments, in order; empty for a plain EVENT.
    public var attachments: [[UInt8]] = []
}

/// What an acknowledgement carries, either way: JSON arguments and the binary attachments their
/// placeholders (`{"_placeholder":true,"num":N}`) refer to. With attachments it goes as BINARY_ACK.
public struct SocketIOReply: Sendable, Hashable, ExpressibleByArrayLiteral {
    public var arguments: [JSONValue]
    public var attachments: [[UInt8]]

    public init(_ arguments: [JSONValue], attachments: [[UInt8]] = []) {
        self.arguments = arguments
        self.attachments = attachments
    }

    public init(arrayLiteral elements: JSONValue...) { self.init(elements) }
}

/// Where an emit goes.
public enum SocketIOTarget: Sendable, Hashable {
    case socket(SocketID)
    /// Every socket of the user on this instance, in every namespace.
    case user(SocketIOUserKey)
    /// Every socket in the room, optionally but one (the sender).
    case room(String, excluding: SocketID? = nil)
}

/// Why a server-to-client acknowledgement did not arrive.
public enum SocketIOAckError: Error, Sendable, Hashable {
    case timeout
    case disconnected
    case unknownSocket
}

/// The application's side of the server. Closures, so the composition root can wire them to its
/// services; `userOnline`/`userOffline` are called on the server's actor, in order, and must return
/// quickly (hand the work to a queue or stream).
public struct SocketIOServerHandlers: Sendable {
    public var authenticate: @Sendable (_ auth: JSONValue?, _ headers: [String: String]) async -> AuthResult
    /// Called for every client EVENT, concurrently with the socket's other events in flight (at most
    /// `SocketEventLimits.inFlight`, started in order). The returned reply becomes
    /// the ACK when the client asked for one; nil sends no ACK.
    public var event: @Sendable (SocketIOEvent) async -> SocketIOReply?
    /// The user's first socket on this instance connected.
    public var userOnline: @Sendable (SocketUser) -> Void
    /// The user's last socket on this instance disconnected.
    public var userOffline: @Sendable (SocketUser) -> Void
    /// Awaited for every accepted CONNECT, after `userOnline` and before the client is told it is
    /// connected: whatever must be in place before the client may count on receiving events (chatd's
    /// update subscription) is waited for here. The socket already counts as the user's meanwhile.
    public var beforeConnected: @Sendable (SocketUser) async -> Void
    /// An Engine.IO session ended, and why; called on the server's actor, must return quickly.
    public var sessionClosed: @Sendable (EngineIOCloseReason) -> Void
    /// A limit was hit (`SocketIOLimit.name`), for metrics. Called on the server's actor; must return quickly.
    public var limitHit: @Sendable (String) -> Void
    /// A per-address cap refused a session: the limit's name and the address as the cap counts it
    /// (after `limitHit`). Called on the server's actor; must return quickly.
    public var addressRefused: @Sendable (_ limit: String, _ address: String) -> Void

    public init(
        authenticate: @escaping @Sendable (_ auth: JSONValue?, _ headers: [String: String]) async -> AuthResult,
        event: @escaping @Sendable (SocketIOEvent) async -> SocketIOReply? = { _ in nil },
        userOnline: @escaping @Sendable (SocketUser) -> Void = { _ in },
        userOffline: @escaping @Sendable (SocketUser) -> Void = { _ in },
        beforeConnected: @escaping @Sendable (SocketUser) async -> Void = { _ in },
        sessionClosed: @escaping @Sendable (EngineIOCloseReason) -> Void = { _ in },
        limitHit: @escaping @Sendable (String) -> Void = { _ in },
        addressRefused: @escaping @Sendable (_ limit: String, _ address: String) -> Void = { _, _ in }
    ) {
        self.authenticate = authenticate
        self.event = event
        self.userOnline = userOnline
        self.userOffline = userOffline
        self.beforeConnected = beforeConnected
        self.sessionClosed = sessionClosed
        self.limitHit = limitHit
        self.addressRefused = addressRefused
    }
}
