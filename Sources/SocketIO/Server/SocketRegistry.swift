import ChatCore

/// Connected sockets indexed by user and by room. Plain data, owned by the server actor.
public struct SocketRegistry: Sendable {
    public struct Entry: Sendable, Hashable {
        public var user: SocketUser
        /// The Engine.IO session carrying the socket.
        public var sessionID: String
        /// The namespace the socket connected to; its packets carry it.
        public var namespace: String = SocketIOPacket.mainNamespace
        /// Room names are the server's, not per namespace (chatd serves one namespace).
        public var rooms: Set<String> = []
    }

    public private(set) var sockets: [SocketID: Entry] = [:]
    private var socketsByUser: [SocketIOUserKey: Set<SocketID>] = [:]
    private var socketsByRoom: [String: Set<SocketID>] = [:]

    public init() {}

    /// Adds a socket; true when it is the user's first.
    @discardableResult
    public mutating func add(
        _ socket: SocketID, user: SocketUser, sessionID: String, namespace: String = SocketIOPacket.mainNamespace
    ) -> Bool {
        sockets[socket] = Entry(user: user, sessionID: sessionID, namespace: namespace)
        let isFirst = socketsByUser[user.id] == nil
        socketsByUser[user.id, default: []].insert(socket)
        return isFirst
    }

    /// Removes a socket from the registry and its rooms. `wasLast` tells whether it was the user's last.
    @discardableResult
    public mutating func remove(_ socket: SocketID) -> (entry: Entry, wasLast: Bool)? {
        guard let entry = sockets.removeValue(forKey: socket) else { return nil }
        for room in entry.rooms { removeMember(socket, from: room) }
        socketsByUser[entry.user.id]?.remove(socket)
        let wasLast = socketsByUser[entry.user.id]?.isEmpty ?? true
        if wasLast { socketsByUser[entry.user.id] = nil }
        return (entry, wasLast)
    }

    /// Joins a room; false for an unknown socket.
    @discardableResult
    public mutating func join(_ socket: SocketID, room: String) -> Bool {
        guard sockets[socket] != nil else { return false }
        sockets[socket]?.rooms.insert(room)
        socketsByRoom[room, default: []].insert(socket)
        return true
    }

    public mutating func leave(_ socket: SocketID, room: String) {
        guard sockets[socket]?.rooms.remove(room) != nil else { return }
        removeMember(socket, from: room)
    }

    private mutating func removeMember(_ socket: SocketID, from room: String) {
        socketsByRoom[room]?.remove(socket)
        if socketsByRoom[room]?.isEmpty == true { socketsByRoom[room] = nil }
    }

    public func sockets(of user: SocketIOUserKey) -> Set<SocketID> {
        socketsByUser[user] ?? []
    }

    public func sockets(in room: String) -> Set<SocketID> {
        socketsByRoom[room] ?? []
    }

    public func rooms(of socket: SocketID) -> Set<String> {
        sockets[socket]?.rooms ?? []
    }

    public var connectedUsers: Set<SocketIOUserKey> { Set(socketsByUser.keys) }

    /// The sockets an emit to `target` reaches.
    public func resolve(_ target: SocketIOTarget) -> [SocketID] {
        switch target {
        case .socket(let socket):
            return sockets[socket] == nil ? [] : [socket]
        case .user(let user):
            return Array(sockets(of: user))
        case .room(let room, let excluded):
            return sockets(in: room).filter { $0 != excluded }
        }
    }
}
