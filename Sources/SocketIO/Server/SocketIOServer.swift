import ChatCore

/// The Socket.IO server behind the HTTP layer: Engine.IO sessions by sid, the Socket.IO sockets on
/// them, users, rooms and acknowledgements. Transport-agnostic: the HTTP layer calls the entry points in
/// `SocketIOServer+Polling` and `SocketIOServer+WebSocket`; the application emits through
/// `SocketIOServer+Emit` and gets events through `SocketIOServerHandlers`.
///
/// One actor owns everything, so a fan-out is one actor turn with no hops, and one sweeper (`run()`)
/// drives every session's heartbeat instead of a task per session.
public actor SocketIOServer {
    public struct Configuration: Sendable, Hashable {
        public var engine: EngineIOConfiguration
        /// How often `run()` sweeps heartbeats and timeouts; the resolution of every timer.
        public var sweepInterval: Duration
        /// Each socket's bounds on client events.
        public var events: SocketEventLimits
        /// A session that sends no Socket.IO CONNECT within this time is closed (`connectTimeout`).
        public var connectTimeout: Duration
        /// Open sessions; past it a new one is refused (503). Unbounded unless set (chatd sets it).
        public var maxSessions: Int
        /// Open sessions per client address (as the HTTP layer names it); past it 429. Unbounded unless set.
        public var maxSessionsPerAddress: Int
        /// How long a dropped socket that asked for connection-state recovery can be resumed; nil: never.
        public var recoveryWindow: Duration?
        /// Replay buffer per socket, in bytes (oldest packets go first), and for all sockets together
        /// (oldest dropped sockets go first).
        public var replayLimitBytes: Int
        public var replayTotalBytes: Int
        /// The namespaces a client may connect to; a CONNECT to any other gets CONNECT_ERROR
        /// `Invalid namespace`. One session can hold a socket in each.
        public var namespaces: Set<String>

        public init(engine: EngineIOConfiguration = EngineIOConfiguration(), sweepInterval: Duration = .seconds(1),
                    events: SocketEventLimits = SocketEventLimits(), connectTimeout: Duration = .seconds(45),
                    maxSessions: Int = .max, maxSessionsPerAddress: Int = .max,
                    recoveryWindow: Duration? = .seconds(120), replayLimitBytes: Int = 1 << 20,
                    replayTotalBytes: Int = 256 << 20, namespaces: Set<String> = [SocketIOPacket.mainNamespace]) {
            self.engine = engine
            self.sweepInterval = sweepInterval
            self.events = events
            self.connectTimeout = connectTimeout
            self.maxSessions = maxSessions
            self.maxSessionsPerAddress = maxSessionsPerAddress
            self.recoveryWindow = recoveryWindow
            self.replayLimitBytes = replayLimitBytes
            self.replayTotalBytes = replayTotalBytes
            self.namespaces = namespaces
        }

        /// The most a client can make the server hold for one event or ack with binary attachments:
        /// its header and every attachment together, in bytes. The event size bound (`events.maxBytes`),
        /// and never more than one message may carry (`engine.maxPayload`).
        public var maxAttachmentBytes: Int { min(events.maxBytes, engine.maxPayload) }
    }

    /// A BINARY_EVENT/BINARY_ACK waiting for its attachments, or what is left of a refused one.
    enum AttachmentAssembly {
        /// The header packet, the attachments so far, and the bytes held (the header's included).
        case collecting(SocketIOPacket, parts: [[UInt8]], bytes: Int)
        /// Refused (too large, malformed, or for no socket): this many more binary messages belong to it
        /// and are dropped as they come.
        case discarding(remaining: Int)
    }

    struct PollWaiter {
        var token: UInt64
        var continuation: CheckedContinuation<Result<String, EngineIORequestError>, Never>
    }

    struct SessionRecord {
        var engine: EngineIOSession
        var poll: PollWaiter?
        var webSocket: (any EngineIOWebSocketWriter)?
        var webSocketGeneration: UInt64 = 0
        /// The handshake's headers, kept only until the CONNECT is authenticated (until the session
        /// ends when other namespaces may still be connected).
        var headers: [String: String]
        /// The session's sockets, by namespace.
        var sockets: [String: SocketID] = [:]
        /// While a CONNECT authenticates: its namespace, and the messages that arrive meanwhile, in order.
        var connecting: (namespace: String, buffered: [EngineIOPacketData])?
        /// The binary attachments a BINARY_EVENT/BINARY_ACK announced, as they arrive.
        var assembly: AttachmentAssembly?
        /// Frames emitted to the socket while its CONNECT answer waits for `beforeConnected`; sent
        /// right after that answer, in order, so a client never sees an event before it is connected.
        var heldFrames: [(frame: String, tag: UInt64)]?
        /// Tracked frames not yet known to have reached the client, by tracking number: held, queued
        /// for polling, or in a poll answer the client has not followed with its next GET. Whatever is
        /// left when the session ends is reported unwritten.
        var tracked: [UInt64: FrameWritten] = [:]
        /// Tracked frames in poll answers; the client has them once its next GET (or the WebSocket
        /// upgrade, which it sends only after the last poll was handled) arrives.
        var awaitingNextPoll: [UInt64] = []
        /// The client address counted against `maxSessionsPerAddress`.
        var address: String?
        /// Until the first Socket.IO CONNECT arrives: when the session is closed for not sending one.
        var connectDeadline: ContinuousClock.Instant?
    }

    public let configuration: Configuration
    let handlers: SocketIOServerHandlers
    let clock: @Sendable () -> ContinuousClock.Instant

    var sessions: [String: SessionRecord] = [:]
    var registry = SocketRegistry()
    var acks = AckTracker()
    /// Client events per connected socket (rate, in flight, waiting).
    var eventQueues: [SocketID: SocketEventQueue] = [:]
    /// Open sessions per client address.
    var sessionsByAddress: [String: Int] = [:]
    /// Replay buffers of connected sockets that asked for recovery, and dropped ones kept by pid.
    var replays: [SocketID: ReplayBuffer] = [:]
    var persisted: [String: PersistedSocket] = [:]
    private var lastToken: UInt64 = 0

    /// - Parameter clock: the current time; tests pass a manual clock and call `sweep()`.
    public init(
        configuration: Configuration = Configuration(),
        handlers: SocketIOServerHandlers,
        clock: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.configuration = configuration
        self.handlers = handlers
        self.clock = clock
    }

    /// Registers a new session, unless the global or per-address cap refuses it.
    func admit(_ record: SessionRecord, sid: String) throws(EngineIORequestError) {
        if sessions.count >= configuration.maxSessions {
            handlers.limitHit(SocketIOLimit.sessions.name)
            throw .tooManySessions
        }
        if let address = record.address {
            guard sessionsByAddress[address, default: 0] < configuration.maxSessionsPerAddress else {
                handlers.limitHit(SocketIOLimit.sessionsPerAddress.name)
                handlers.addressRefused(SocketIOLimit.sessionsPerAddress.name, address)
                throw .tooManySessionsFromAddress
            }
            sessionsByAddress[address, default: 0] += 1
        }
        var record = record
        record.connectDeadline = clock() + configuration.connectTimeout
        sessions[sid] = record
    }

    func makeToken() -> UInt64 {
        lastToken += 1
        return lastToken
    }

    // MARK: Heartbeat

    /// Sweeps heartbeats and timeouts every `sweepInterval` until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.sweepInterval)
            sweep()
        }
    }

    /// Sends due pings, closes sessions whose pong is late, fails overdue acknowledgements.
    public func sweep() {
        let now = clock()
        let due = sessions.compactMap { sid, record in
            record.engine.nextDeadline.map { $0 <= now } == true ? sid : nil
        }
        for sid in due where sessions[sid] != nil {
            perform(sessions[sid]!.engine.tick(now: now), sid: sid)
        }
        let silent = sessions.compactMap { sid, record in
            record.connectDeadline.map { $0 <= now } == true ? sid : nil
        }
        for sid in silent {
            sessions[sid]?.connectDeadline = nil
            handlers.limitHit(SocketIOLimit.connectTimeout.name)
            close(sid: sid)
        }
        acks.expire(now: now)
        if !persisted.isEmpty { evictPersisted() }
    }

    /// Closes every session, e.g. on shutdown.
    public func closeAll() {
        for sid in Array(sessions.keys) { close(sid: sid) }
    }

    /// Closes one Engine.IO session from the server side. Its socket is gone at once; a polling client
    /// learns of the close on its next GET.
    public func close(sid: String) {
        guard let sockets = sessions[sid]?.sockets else { return }
        sessions[sid]!.sockets = [:]
        for socket in sockets.values { socketGone(socket) }
        perform(sessions[sid]!.engine.close(now: clock()), sid: sid)
    }

    // MARK: Introspection

    public var sessionCount: Int { sessions.count }
    public var socketCount: Int { registry.sockets.count }
    public var connectedUsers: Set<SocketIOUserKey> { registry.connectedUsers }
    public func sockets(of user: SocketIOUserKey) -> Set<SocketID> { registry.sockets(of: user) }
    public func sockets(in room: String) -> Set<SocketID> { registry.sockets(in: room) }
    public func rooms(of socket: SocketID) -> Set<String> { registry.rooms(of: socket) }
    public func user(of socket: SocketID) -> SocketUser? { registry.sockets[socket]?.user }
    /// Every connected socket with its user and token, for rechecking sessions against the store.
    public var connectedSockets: [SocketID: SocketUser] { registry.sockets.mapValues(\.user) }

    /// The session state, for tests and diagnostics.
    public func sessionState(sid: String) -> EngineIOSession.State? { sessions[sid]?.engine.state }

    // MARK: Effects

    /// Performs a session step's effects; returns the messages for the Socket.IO layer.
    @discardableResult
    func perform(_ effects: [EngineIOEffect], sid: String) -> [EngineIOPacketData] {
        var delivered: [EngineIOPacketData] = []
        for effect in effects {
            switch effect {
            case .respondToPoll(let body, let tags):
                if let waiter = sessions[sid]?.poll {
                    sessions[sid]?.poll = nil
                    waiter.continuation.resume(returning: .success(body))
                    if !tags.isEmpty { sessions[sid]?.awaitingNextPoll += tags }
                } else {
                    for tag in tags { sessions[sid]?.tracked.removeValue(forKey: tag)?(false) }
                }
            case .writeWebSocket(let text, let tag):
                // A socket with a replay buffer counts a frame as delivered once written: recovery
                // brings back what the connection lost. Any other waits for the client's receipt
                // (`received`), or its session's end reports it unwritten.
                let written = tag == 0 || !hasReplay(sid) ? nil : sessions[sid]?.tracked.removeValue(forKey: tag)
                if let webSocket = sessions[sid]?.webSocket {
                    webSocket.write(text, whenWritten: written)
                } else {
                    written?(false)
                }
            case .received(let tags):
                for tag in tags { sessions[sid]?.tracked.removeValue(forKey: tag)?(true) }
            case .closeWebSocket:
                sessions[sid]?.webSocket?.close()
                sessions[sid]?.webSocket = nil
            case .deliver(let data):
                delivered.append(data)
            case .closed(let reason):
                if sessions[sid] != nil { handlers.sessionClosed(reason) }
                for socket in (sessions[sid]?.sockets ?? [:]).values { persistForRecovery(socket, reason: reason) }
                sessionEnded(sid)
            }
        }
        return delivered
    }

    /// Whether a socket of the session keeps a replay buffer (connection-state recovery).
    private func hasReplay(_ sid: String) -> Bool {
        sessions[sid]?.sockets.values.contains { replays[$0] != nil } ?? false
    }

    /// Forgets a closed session and disconnects its socket.
    private func sessionEnded(_ sid: String) {
        guard let record = sessions.removeValue(forKey: sid) else { return }
        if let address = record.address {
            let remaining = (sessionsByAddress[address] ?? 1) - 1
            sessionsByAddress[address] = remaining > 0 ? remaining : nil
        }
        record.poll?.continuation.resume(returning: .success(EngineIOPacket(.close).encoded))
        record.webSocket?.close()
        for socket in record.sockets.values { socketGone(socket) }
        // In the order they were sent, so whatever is redelivered keeps its order.
        for tag in record.tracked.keys.sorted() { record.tracked[tag]?(false) }
    }

    /// The client's next GET or the WebSocket upgrade: it has handled every earlier poll answer.
    func confirmPollAnswers(sid: String) {
        guard let tags = sessions[sid]?.awaitingNextPoll, !tags.isEmpty else { return }
        sessions[sid]!.awaitingNextPoll = []
        for tag in tags { sessions[sid]!.tracked.removeValue(forKey: tag)?(true) }
    }

    /// Removes a socket from users and rooms, fails its pending acknowledgements, reports the user
    /// offline when it was their last socket.
    func socketGone(_ socket: SocketID) {
        acks.fail(socket: socket)
        eventQueues[socket] = nil
        replays[socket] = nil
        guard let (entry, wasLast) = registry.remove(socket) else { return }
        if wasLast { handlers.userOffline(entry.user) }
    }
}
