import ChatCore
import SocketIO

// The boundary between chatd's users and the Socket.IO library's opaque user keys: a key is the
// `UserID`'s raw value. chatd makes every key it hands the library from a `UserID` (`authenticate`),
// so every key the library hands back maps to one.

extension SocketIOUserKey {
    public init(_ user: UserID) { self.init(rawValue: user.rawValue) }

    /// The chatd user of a key chatd made.
    public var userID: UserID { UserID(rawValue: rawValue)! }
}

extension SocketUser {
    public init(user: UserID, name: String?, tokenID: String?, tokenExpiresAt: Double?) {
        self.init(id: SocketIOUserKey(user), name: name, tokenID: tokenID, tokenExpiresAt: tokenExpiresAt)
    }

    /// The chatd user the socket authenticated as.
    public var userID: UserID { id.userID }
}

extension SocketIOTarget {
    /// Every socket of a chatd user on this instance.
    public static func user(_ user: UserID) -> SocketIOTarget { .user(SocketIOUserKey(user)) }
}

extension SocketIOServer {
    public func sockets(of user: UserID) -> Set<SocketID> { sockets(of: SocketIOUserKey(user)) }
    public func disconnect(user: UserID) { disconnect(user: SocketIOUserKey(user)) }
    /// The chatd users with a socket on this instance.
    public var connectedUserIDs: Set<UserID> { Set(connectedUsers.map(\.userID)) }
}
