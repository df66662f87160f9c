import ChatAuth
import ChatCore
import Foundation
import Logging
import ServiceLifecycle
import SocketIO
import Synchronization

/// How chatd's real-time server is put together: built once by `Daemon.prepare` from the config and
/// Chat3 (or a test's `RealTimeOverrides`), then handed to the hub.
public struct RealTimeSetup: Sendable {
    public var membership: any DialogMembershipChecking
    /// Whom presence is told to.
    public var coMembers: any CoMemberFinding
    public var server: SocketIOServer.Configuration
    /// `typing:start`/`typing:stop` relayed at most once per socket and dialog in this interval.
    public var typingInterval: Duration
    /// How long a "not a member" answer is reused for the same user and dialog.
    public var membershipRefusalTTL: Duration
    /// Whose `X-Forwarded-For` names the client, for the per-address session cap.
    public var trustedProxies: TrustedProxies = .none

    public init(membership: any DialogMembershipChecking, coMembers: any CoMemberFinding,
                server: SocketIOServer.Configuration = .init(),
                typingInterval: Duration = .seconds(1), membershipRefusalTTL: Duration = .seconds(5)) {
        self.membership = membership
        self.coMembers = coMembers
        self.server = server
        self.typingInterval = typingInterval
        self.membershipRefusalTTL = membershipRefusalTTL
    }
}

/// What a test puts in place of production's real-time parts; each nil keeps what the config and Chat3
/// give. A `server` replaces the config's heartbeat, session and event settings as a whole.
public struct RealTimeOverrides: Sendable {
    public var membership: (any DialogMembershipChecking)?
    public var coMembers: (any CoMemberFinding)?
    public var server: SocketIOServer.Configuration?
    public var typingInterval: Duration?

    public init(membership: (any DialogMembershipChecking)? = nil, coMembers: (any CoMemberFinding)? = nil,
                server: SocketIOServer.Configuration? = nil, typingInterval: Duration? = nil) {
        self.membership = membership
        self.coMembers = coMembers
        self.server = server
        self.typingInterval = typingInterval
    }

    /// Production: everything from the config and Chat3.
    public static let none = RealTimeOverrides()
}

/// chatd's Socket.IO endpoint as the rest of the daemon sees it: emit to a user's sockets, count
/// connections and users, kick a user, drain. Owns the `SocketIOServer` and runs its heartbeat as a
/// service; the HTTP layer (`RealTimeRoutes`, `RealTimeWebSocket`) feeds it.
///
/// Presence scope: the reference broadcast `user:online`/`user:offline` to every socket, which told
/// anyone connected who else was online. Here presence reaches only the people who share a dialog with
/// the user (Chat3's lists, `CoMemberFinding`), whether or not they joined any room: `user:online` when
/// the user's first socket in the cluster connects, `user:offline` when its last one closes. Other
/// instances hear of it through the relay. A join's ack lists who in the room is online.
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
        case online(SocketUser)
        case offline(SocketUser)
    }

    public let server: SocketIOServer
    /// The server's settings (heartbeat, `maxHttpBufferSize`), readable without awaiting the actor.
    public let configuration: SocketIOServer.Configuration
    public let trustedProxies: TrustedProxies
    let logger: Logger
    let metrics: ChatMetrics?
    private let draining = Atomic(false)
    /// The WebSockets open now (see `OpenWebSockets`).
    public let webSockets = OpenWebSockets()
    private let presence = PresenceDirectory()
    private let coMembers: any CoMemberFinding
    private let presenceChanges: AsyncStream<PresenceChange>
    private let relay: (any RoomRelaying)?
    private let names: UserNames?
    private let sessions: SessionWatch
    private let membership: any DialogMembershipChecking

    /// - Parameter relay: carries room emits to other instances (nil: a single instance).
    /// - Parameter names: fills in names that updates from Chat3 lack (the typer of `typing:update`).
    /// - Parameter limitHit: a limit's name each time a socket or session goes past one (metrics).
    /// - Parameter sessionRecheck: how often open sockets are checked against the store
    ///   (`auth.session_recheck`): the bound on how late a change no one told this instance closes them.
    public init(tokens: TokenService, setup: RealTimeSetup, lifecycle: UserLifecycle = .init(),
                relay: (any RoomRelaying)? = nil, metrics: ChatMetrics? = nil, names: UserNames? = nil,
                limitHit: @escaping @Sendable (String) -> Void = { _ in }, sessionRecheck: Duration = .seconds(5),
                now: @escaping @Sendable () -> Date = Date.init, logger: Logger) {
        self.logger = logger
        self.metrics = metrics
        self.relay = relay
        self.names = names
        configuration = setup.server
        coMembers = setup.coMembers
        membership = setup.membership
        trustedProxies = setup.trustedProxies
        let (changes, continuation) = AsyncStream.makeStream(of: PresenceChange.self)
        presenceChanges = changes
        let slot = ServerSlot()
        let events = RealTimeEvents(server: slot, membership: setup.membership, relay: relay,
                                    logger: logger, typingRelayed: RecentKeys(interval: setup.typingInterval),
                                    refusedJoins: RecentKeys(interval: setup.membershipRefusalTTL), limitHit: limitHit)
        let handlers = SocketIOServerHandlers(
            authenticate: { auth, headers in
                await Self.authenticate(auth: auth, headers: headers, tokens: tokens, logger: logger)
            },
            event: { event in await events.handle(event).map { SocketIOReply($0) } },
            userOnline: { user in
                lifecycle.connected(user.userID)
                // In order with the offline below (both on the server's actor), handled off it.
                continuation.yield(.online(user))
            },
            userOffline: { user in
                lifecycle.disconnected(user.userID)
                continuation.yield(.offline(user))
            },
            beforeConnected: { user in await lifecycle.ready(user.userID) },
            sessionClosed: { reason in
                guard reason == .outboxOverflow else { return }
                logger.warning("socket outbox full, session closed", metadata: [
                    "reason": "outbox_overflow", "realtime.outbox_limit": "\(setup.server.engine.maxBufferedBytes)",
                ])
                metrics?.sessionsClosed("outbox_overflow").increment()
            },
            limitHit: limitHit,
            addressRefused: { [refusals = AddressRefusalLog(logger: logger), cap = setup.server.maxSessionsPerAddress] in
                refusals.refused(limit: $0, address: $1, cap: cap)
            })
        server = SocketIOServer(configuration: setup.server, handlers: handlers)
        slot.set(server)
        sessions = SessionWatch(server: server, tokens: tokens, interval: sessionRecheck, logger: logger, now: now)
    }

    /// The CONNECT check: the auth payload's `token`, else the handshake's `Authorization: Bearer`,
    /// through the same `TokenService.authenticate` as the REST API.
    static func authenticate(auth: JSONValue?, headers: [String: String], tokens: TokenService,
                             logger: Logger) async -> AuthResult {
        guard let token = auth?["token"]?.stringValue ?? BearerToken.from(headers["authorization"]) else {
            return .rejected
        }
        do {
            let (user, claims) = try await tokens.authenticate(token)
            return .authenticated(SocketUser(user: user.userId, name: user.name.value, tokenID: claims.jti.value,
                                             tokenExpiresAt: claims.exp.value.timeIntervalSince1970))
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

    /// `UpdateDelivering`, for the update pipeline: acked once every socket wrote the frames.
    public func deliver(_ emissions: [UpdateEvents.Emission], toUser userId: String, skipping: Set<String>,
                        whenWritten: @escaping @Sendable (_ wrote: Set<String>, _ allWrote: Bool) -> Void)
        async -> (reached: Int, alreadyHad: Int) {
        guard let id = UserID(rawValue: userId) else { return (0, 0) }
        var emissions = emissions
        // Only `typing:update` lacks a name; every other update goes out as it came, with no copy.
        if let names, emissions.contains(where: { $0.event == "typing:update" }) {
            var completed: [UpdateEvents.Emission] = []
            for emission in emissions {
                completed.append(.init(event: emission.event, payload: await names.completing(emission.event, emission.payload)))
            }
            emissions = completed
        }
        // `chat3:update` comes first and once per update, with the normalized fields.
        for emission in emissions where emission.event == "chat3:update" { await applyMemberRemoval(emission.payload) }
        let skipped = Set(skipping.map(SocketID.init(rawValue:)))
        return await server.emit(emissions.map { ($0.event, [$0.payload]) }, to: .user(id), skipping: skipped) { outcome in
            whenWritten(Set(outcome.wrote.map(\.rawValue)), outcome.allWrote)
        }
    }

    /// A `dialog.member.remove` takes the removed user's sockets here out of the dialog's room: they get
    /// no more of its typing and cannot type into it. Every copy of the update (the removed user's and the
    /// remaining members') does it, so it happens on every instance where any of them is connected; repeats change nothing. The membership
    /// cache forgets the pair, so a rejoin asks Chat3 again (and is refused).
    func applyMemberRemoval(_ update: JSONValue) async {
        guard update["eventType"]?.stringValue == "dialog.member.remove",
              let removed = update["data"]?["member"]?["userId"]?.stringValue.flatMap(UserID.init(rawValue:)),
              let dialog = (update["dialogId"]?.stringValue ?? update["data"]?["dialog"]?["dialogId"]?.stringValue)
                  .flatMap(DialogRoomID.init(rawValue:)) else { return }
        membership.memberRemoved(removed, fromDialog: dialog)
        let room = dialog.room
        let leaving = await server.sockets(of: removed).intersection(await server.sockets(in: room))
        guard !leaving.isEmpty else { return }
        for socket in leaving { await server.leave(socket, room: room) }
        // An indicator the removed user left behind ends now rather than when it expires.
        let stop: JSONValue = ["userId": .string(removed.rawValue), "dialogId": .string(dialog.rawValue)]
        await server.emit("typing:stop", [stop], to: .room(room))
        relay?.relay("typing:stop", [stop], toRoom: room)
        logger.info("removed member left the dialog room", metadata: ["user.id": "\(removed)", "dialog.id": "\(dialog)",
                                                                      "socket.count": "\(leaving.count)"])
    }

    /// An emit another instance relayed for one of its rooms: the sockets here watching that room get it too.
    public func deliverRelayed(event: String, args: [JSONValue], room: String) async {
        await server.emit(event, args, to: .room(room))
    }

    /// Another instance's presence notice. Its recipients connected here are told, unless the user
    /// already was (or still is) online here or on a third instance: presence is the cluster's, not
    /// one instance's.
    public func deliverPresence(from origin: String, _ notice: PresenceNotice) async {
        let here = await !server.sockets(of: notice.userId).isEmpty
        let announce: Bool
        if notice.online {
            let elsewhere = presence.arrived(notice.userId, on: origin, toldTo: Set(notice.recipients))
            announce = !here && !elsewhere
        } else {
            let elsewhere = presence.left(notice.userId, from: origin)
            announce = !here && !elsewhere
        }
        if announce { await tell(notice, to: Set(notice.recipients)) }
    }

    /// Another instance died without saying its users left (`RoomRelay.Incoming.gone`): each user that was
    /// online only there is offline now, told to the co-members its arrival was told to.
    public func instanceGone(_ origin: String) async {
        for (user, recipients) in presence.forget(origin: origin) {
            let here = await !server.sockets(of: user).isEmpty
            guard !here, !presence.isOnlineElsewhere(user) else { continue }
            await tell(PresenceNotice(online: false, userId: user, userName: nil, recipients: Array(recipients)),
                       to: recipients)
        }
    }

    /// Emits the notice's event to those of `recipients` connected here.
    private func tell(_ notice: PresenceNotice, to recipients: Set<UserID>) async {
        let connected = await server.connectedUserIDs
        let (name, payload) = notice.event
        for user in recipients.intersection(connected) {
            await server.emit(name, [payload], to: .user(user))
        }
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

    /// Closes the sockets that connected with token `tokenID` (a logout, here or on another instance);
    /// the user's other sessions stay. Returns how many closed.
    @discardableResult
    public func closeSessions(tokenID: String) async -> Int {
        await sessions.closeSessions(tokenID: tokenID)
    }

    /// Checks every open socket against the store and its token's expiry now; returns how many closed.
    /// `run` does this every `sessionRecheck`.
    @discardableResult
    public func recheckSessions() async -> Int { await sessions.recheck() }

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
        // Presence looks up co-members in Chat3, and a Chat3 call cannot be interrupted: were it a child
        // of the group below, a hung Chat3 would hold the shutdown for a request timeout per change.
        // Cancelled, not awaited; what it still waits for ends with the process.
        let presenceForwarding = Task { await self.forwardPresence() }
        defer { presenceForwarding.cancel() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.server.run() }
            group.addTask { await self.sessions.run() }
            try? await gracefulShutdown()
            let sockets = await server.socketCount
            await closeAllSessions()
            // Their last frames and close handshakes (bounded by the close grace and the shutdown
            // deadline) before HTTP and AMQP stop.
            await webSockets.allClosed()
            logger.notice("real-time sessions closed", metadata: ["socket.count": "\(sockets)"])
            group.cancelAll()
        }
    }

    private func currentCoMembers(of user: UserID) async -> Set<UserID> {
        do {
            return try await coMembers.coMembers(of: user).subtracting([user])
        } catch {
            logger.warning("presence: co-members unavailable", metadata: ["user.id": "\(user)", "error": "\(error)"])
            return []
        }
    }

    /// A user's first socket here and its last one closing, in order: co-members are looked up at
    /// arrival, and the departure goes to the same people plus whoever shares a dialog with the user by then. Other instances always hear of both
    /// (they keep count of where the user is online); local sockets only when the user is not online on
    /// another instance. Changes are handled one at a time, so a slow Chat3 delays presence, never a connect.
    private func forwardPresence() async {
        for await change in presenceChanges {
            if Task.isCancelled { return }
            switch change {
            case .online(let user):
                let recipients = await currentCoMembers(of: user.userID)
                presence.told(recipients, about: user.userID)
                let notice = PresenceNotice(online: true, userId: user.userID, userName: user.name,
                                            recipients: recipients.sorted { $0.rawValue < $1.rawValue })
                if !presence.isOnlineElsewhere(user.userID) { await tell(notice, to: recipients) }
                relay?.relayPresence(notice)
            case .offline(let user):
                // Those told of the arrival, and those who came to share a dialog since (mostly cached).
                let recipients = presence.takeTold(about: user.userID).union(await currentCoMembers(of: user.userID))
                let notice = PresenceNotice(online: false, userId: user.userID, userName: nil,
                                            recipients: recipients.sorted { $0.rawValue < $1.rawValue })
                if !isDraining, !presence.isOnlineElsewhere(user.userID) { await tell(notice, to: recipients) }
                relay?.relayPresence(notice)
            }
        }
    }
}

/// The server, for the event handlers the server itself is built with.
final class ServerSlot: Sendable {
    private let slot = Mutex<SocketIOServer?>(nil)

    func set(_ server: SocketIOServer) { slot.withLock { $0 = server } }

    /// Set in `RealTimeHub.init`, before any event can arrive.
    var server: SocketIOServer { slot.withLock { $0! } }
}
