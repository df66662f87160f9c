import Chat3Client
import ChatApp
import ChatConfig
import ChatCore
import Logging
import SocketIO

extension Chat3ClientConfiguration {
    init(config: ChatdConfig) {
        self.init(baseURL: config.chat3.url, apiKey: config.chat3.apiKey, tenant: config.chat3.tenant,
                  connectTimeout: config.chat3.connectTimeout, requestTimeout: config.chat3.requestTimeout)
    }
}

extension Chat3Client {
    /// The daemon's client: configured from `config`, reporting latency and failures to `metrics`.
    static func make(config: ChatdConfig, metrics: ChatMetrics, logger: Logger) -> Chat3Client {
        Chat3Client(configuration: Chat3ClientConfiguration(config: config), logger: logger) { method, route, elapsed, outcome in
            let operation = "\(method) \(route)"
            if outcome != "breaker_open" { metrics.chat3Duration(operation: operation).record(elapsed) }
            if outcome != "ok" { metrics.chat3Errors(kind: outcome).increment() }
        }
    }

    /// Registers a user just created in chatd. Best effort: Chat3 also creates users when they join a dialog,
    /// so a failure here is logged, not fatal to the login.
    func register(_ user: User, logger: Logger) async {
        do {
            try await createUser(user.userId)
        } catch {
            logger.warning("chat3 user registration failed", metadata: ["user.id": "\(user.userId)", "chat3.error": "\(error.label)"])
        }
    }
}

/// Socket.IO `dialog:join` asks the conversation rules (Chat3 through the client's short membership cache).
struct Chat3DialogMembership: DialogMembershipChecking {
    let chat3: Chat3Client
    let conversations: Conversations

    func isMember(_ userId: UserID, ofDialog dialogId: DialogRoomID) async throws -> Bool {
        guard let dialog = DialogID(rawValue: dialogId.rawValue) else { return false }
        return try await conversations.mayJoin(userId, dialog: dialog)
    }

    func memberRemoved(_ userId: UserID, fromDialog dialogId: DialogRoomID) {
        guard let dialog = DialogID(rawValue: dialogId.rawValue) else { return }
        chat3.forgetMembership(userId, of: dialog)
    }
}

extension RealTimeSetup {
    /// Production's real-time settings from the config, with Chat3 answering membership and co-members;
    /// what `overrides` names replaces its part.
    init(config: ChatdConfig, chat3: Chat3Client, conversations: Conversations, overrides: RealTimeOverrides) {
        let limits = config.limits
        var server = SocketIOServer.Configuration()
        server.connectTimeout = .milliseconds(Int64(limits.connectTimeout * 1000))
        server.maxSessions = limits.maxSessions
        server.maxSessionsPerAddress = limits.maxSessionsPerAddress
        server.engine.pingInterval = .milliseconds(Int64(limits.pingInterval * 1000))
        server.engine.pingTimeout = .milliseconds(Int64(limits.pingTimeout * 1000))
        server.engine.maxPayload = limits.maxPayload
        server.engine.maxPacketsPerPost = limits.maxPacketsPerPost
        server.events = SocketEventLimits(inFlight: limits.eventsInFlight, queue: limits.eventQueue,
                                          perSecond: limits.eventsPerSecond, maxBytes: limits.maxEventBytes)
        server = overrides.server ?? server
        server.engine.maxBufferedBytes = config.outboxLimitBytes
        server.engine.receiptDelay = .milliseconds(Int64(config.receiptDelaySeconds * 1000))
        // A quarter of the prefetch: a busy socket gets its receipt well before its user's consumer
        // runs out of unacknowledged deliveries and the broker holds the rest back.
        server.engine.receiptBatch = max(1, config.prefetch / 4)
        server.recoveryWindow = config.recoveryWindowSeconds > 0
            ? .milliseconds(Int64(config.recoveryWindowSeconds * 1000)) : nil
        self.init(membership: overrides.membership ?? Chat3DialogMembership(chat3: chat3, conversations: conversations),
                  coMembers: overrides.coMembers ?? Chat3CoMembers(chat3: chat3),
                  server: server,
                  typingInterval: overrides.typingInterval ?? .milliseconds(Int64(limits.typingInterval * 1000)),
                  membershipRefusalTTL: .milliseconds(Int64(limits.membershipRefusalTTL * 1000)))
        trustedProxies = config.trustedProxies
    }
}
