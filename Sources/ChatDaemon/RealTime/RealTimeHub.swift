import ChatAuth
import ChatCore
import Logging
import ServiceLifecycle
import SocketIO
import Synchronization

/// How chatd's real-time server is put together. `Daemon.prepare` takes one, so tests inject a
/// membership double and short heartbeats while production uses `.production`.
public struct RealTimeSetup: Sendable {
    public var membership: any DialogMembershipChecking
    public var server: SocketIOServer.Configuration
    /// `typing:start`/`typing:stop` relayed at most once per socket and dialog in this interval.
    public var typingInterval: Duration
    /// How long a "not a member" answer is reused for the same user and dialog.
    public var membershipRefusalTTL: Duration
    /// Whose `X-Forwarded-For` names the client, for the per-address session cap.
    public var trustedProxies: TrustedProxies = .none

    public init(membership: any DialogMembershipChecking, server: SocketIOServer.Configuration = .init(),
                typingInterval: Duration = .seconds(1), membershipRefusalTTL: Duration = .seconds(5)) {
        self.membership = membership
        self.server = server
        self.typingInterval = typingInterval
        self.membershipRefusalTTL = membershipRefusalTTL
    }

    /// SEAM: the membership check production uses. Until the Chat3 client's check is wired here
    /// (`CachedDialogMembership(<Chat3 checker>)`), joins are refused as `chat3_unavailable`.
    public static var production: RealTimeSetup {
        RealTimeSetup(membership: UnwiredDialogMembership())
    }
}

/// chatd's Socket.IO endpoint as the rest of the daemon sees it: emit to a user's sockets, count
/// connections and users, kick a user, drain. Owns the `SocketIOServer` and runs its heartbeat as a
/// service; the HTTP layer (`RealTimeRoutes`, `RealTimeWebSocket`) feeds it.
///
/// Presence scope: the reference broadcast `user:online`/`user:offline` to every socket, which told
/// anyone connected who else was online. Here presence only reaches people who share a dialog with the
/// user and are watching it: `user:online` goes to a dialog room when the user's first socket joins it,
/// `user:offline` to every room the user had joined when their last socket closes, and a join's ack
/// lists who in the room is online. A user who joins no room is visible to nobody.
public final class RealTimeHub: Service, UpdateDelivering, Sendable {
    /// Called when a user's first socket on this instance connects and when their last one closes;
    /// the daemon subscribes and unsubscribes the user's updates here. Must return quickly.
    public struct UserLifecycle: Sendable {
        public var connected: @Sendable (UserID) -> Void
        public var disconnected: @Sendable (UserID) -> Void
        /// Awaited before each socket is told it is connected: the daemon waits here for the user's
        /// update subscription, so nothing published after the client's `connect` is lost.
        public var ready: @Sendable (UserID) async -> Void

        public init(connected: @escaping @Sendable (UserID) -> Void = { _ in },
                    disconnected: @escaping @Sendable (UserID) -> Void = { _ in },
                    ready: @escaping @Sendable (UserID) async -> Void = { _ in }) {
            self.connected = connected
            self.disconnected = disconnected
            self.ready = ready
        }
    }

    enum PresenceChange: Sendable {
        case offline(SocketUser, rooms: Set<String>)
    }

    public let server: SocketIOServer
    /// The server's settings (heartbeat, `maxHttpBufferSize`), readable without awaiting the actor.
    public let configuration: SocketIOServer.Configuration
    public let trustedProxies: TrustedProxies
    let logger: Logger
    private let draining = Atomic(false)
    private let presence: PresenceBook
    private let presenceChanges: AsyncStream<PresenceChange>
    private let relay: (any RoomRelaying)?

    /// - Parameter relay: carries room emits to other instances (nil: a single instance).
    /// - Parameter limitHit: a limit's name each time a socket or session goes past one (metrics).
    public init(tokens: TokenService, setup: RealTimeSetup, lifecycle: UserLifecycle = .init(),
                relay: (any RoomRelaying)? = nil, limitHit: @escaping @Sendable (String) -> Void = { _ in },
                logger: Logger) {
        self.logger = logger
        self.relay = relay
        configuration = setup.server
        trustedProxies = setup.trustedProxies
        let presence = PresenceBook()
        self.presence = presence
        let (changes, continuation) = AsyncStream.makeStream(of: PresenceChange.self)
        presenceChanges = changes
        let slot = ServerSlot()
        let events = RealTimeEvents(server: slot, membership: setup.membership, presence: presence, relay: relay,
                                    logger: logger, typingRelayed: RecentKeys(interval: setup.typingInterval),
                                    refusedJoins: RecentKeys(interval: setup.membershipRefusalTTL), limitHit: limitHit)
        let handlers = SocketIOServerHandlers(
            authenticate: { auth, headers in
                await Self.authenticate(auth: auth, headers: headers, tokens: tokens, logger: logger)
            },
            event: { event in await events.handle(event) },
            userOnline: { user in lifecycle.connected(user.id) },
            userOffline: { user in
                lifecycle.disconnected(user.id)
                // Taken here, on the server's actor, so a quick reconnect's joins are not swept up too.
                let rooms = presence.forget(user.id)
                if !rooms.isEmpty { continuation.yield(.offline(user, rooms: rooms)) }
            },
            beforeConnected: { user in await lifecycle.ready(user.id) },
            limitHit: limitHit)
        server = SocketIOServer(configuration: setup.server, handlers: handlers)
        slot.set(server)
    }

    /// The CONNECT check: the auth payload's `token`, else the handshake's `Authorization: Bearer`,
    /// through the same `TokenService.authenticate` as the REST API.
    static func authenticate(auth: JSONValue?, headers: [String: String], tokens: TokenService,
                             logger: Logger) async -> AuthResult {
        guard let token = auth?["token"]?.stringValue ?? BearerToken.from(headers["authorization"]) else {
            return .rejected
        }
        do {
            let (user, _) = try await tokens.authenticate(token)
            return .authenticated(SocketUser(id: user.userId, name: user.name.value))
        } catch {
            logger.debug("socket token refused", metadata: ["reason": "\(error)"])
            return .rejected
        }
    }

    // MARK: Emitting

    /// Emits `event` to every socket of `userId` on this instance; returns how many sockets it reached.
    @discardableResult
    public func emit(event: String, args: [JSONValue], toUser userId: UserID) async -> Int {
        let count = await server.sockets(of: userId).count
        if count > 0 { await server.emit(event, args, to: .user(userId)) }
        return count
    }

    /// Emits `event` to the sockets watching a dialog (those that joined its room).
    public func emit(event: String, args: [JSONValue], toDialog dialogId: DialogRoomID) async {
        await server.emit(event, args, to: .room(dialogId.room))
    }

    /// `UpdateDelivering`, for the update pipeline.
    @discardableResult
    public func deliver(_ event: String, _ payload: JSONValue, toUser userId: String) async -> Int {
        guard let id = UserID(rawValue: userId) else { return 0 }
        return await emit(event: event, args: [payload], toUser: id)
    }

    /// An emit another instance relayed for one of its rooms: the sockets here watching that room get
    /// it too. Presence is seen per instance, so it is filtered against what this instance knows: a
    /// user still connected here is not announced offline, and watchers here who already see the user
    /// in the room are not told again that it came online.
    public func deliverRelayed(event: String, args: [JSONValue], room: String) async {
        if event == "user:online" || event == "user:offline",
           let userId = args.first?["userId"]?.stringValue.flatMap(UserID.init(rawValue:)) {
            let local = await server.sockets(of: userId)
            let announced = event == "user:offline" ? !local.isEmpty
                                                    : !local.isDisjoint(with: await server.sockets(in: room))
            if announced { return }
        }
        await server.emit(event, args, to: .room(room))
    }

    // MARK: Introspection and control

    /// Connected Socket.IO sockets.
    public func connectionCount() async -> Int { await server.socketCount }
    /// Users with at least one socket here.
    public func userCount() async -> Int { await server.connectedUsers.count }
    public func isOnline(_ userId: UserID) async -> Bool { await !server.sockets(of: userId).isEmpty }

    /// Disconnects every socket of a user (disabled account, revoked tokens). The client gets a
    /// Socket.IO DISCONNECT, so it does not reconnect by itself.
    public func kick(user userId: UserID) async {
        await server.disconnect(user: userId)
    }

    /// Whether new Engine.IO sessions are refused.
    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// Refuses new sessions from now on (the handshake answers 503); existing sockets stay.
    public func drain() {
        draining.store(true, ordering: .relaxed)
    }

    /// Drains, then closes every session at the transport level, so clients reconnect (to another
    /// instance behind the load balancer) rather than treat it as a deliberate disconnect.
    public func closeAllSessions() async {
        drain()
        await server.closeAll()
    }

    // MARK: Service

    /// Runs the heartbeat sweeper and presence fan-out; on graceful shutdown (SIGTERM) closes every
    /// session and returns.
    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.server.run() }
            group.addTask { await self.forwardPresence() }
            try? await gracefulShutdown()
            let sockets = await server.socketCount
            await closeAllSessions()
            logger.notice("real-time sessions closed", metadata: ["socket.count": "\(sockets)"])
            group.cancelAll()
        }
    }

    private func forwardPresence() async {
        for await change in presenceChanges {
            switch change {
            case .offline(let user, let rooms):
                guard !isDraining else { continue }
                let payload: JSONValue = ["userId": .string(user.id.rawValue)]
                for room in rooms {
                    await server.emit("user:offline", [payload], to: .room(room))
                    relay?.relay("user:offline", [payload], toRoom: room)
                }
            }
        }
    }
}

/// The dialog rooms each user has joined, for the scope of `user:offline`.
final class PresenceBook: Sendable {
    private let rooms = Mutex<[UserID: Set<String>]>([:])

    func joined(_ user: UserID, room: String) {
        rooms.withLock { _ = $0[user, default: []].insert(room) }
    }

    func left(_ user: UserID, room: String) {
        rooms.withLock { rooms in
            rooms[user]?.remove(room)
            if rooms[user]?.isEmpty == true { rooms[user] = nil }
        }
    }

    /// Removes and returns the user's rooms.
    func forget(_ user: UserID) -> Set<String> {
        rooms.withLock { $0.removeValue(forKey: user) ?? [] }
    }
}

/// The server, for the event handlers the server itself is built with.
final class ServerSlot: Sendable {
    private let slot = Mutex<SocketIOServer?>(nil)

    func set(_ server: SocketIOServer) { slot.withLock { $0 = server } }

    /// Set in `RealTimeHub.init`, before any event can arrive.
    var server: SocketIOServer { slot.withLock { $0! } }
}
