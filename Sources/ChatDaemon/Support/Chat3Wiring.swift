import Chat3Client
import ChatConfig
import ChatCore
import Logging
import SocketIO

extension Chat3ClientConfiguration {
    init(config: ChatdConfig) {
        self.init(baseURL: config.chat3URL, apiKey: config.chat3APIKey, tenant: config.chat3Tenant,
                  connectTimeout: config.chat3ConnectTimeout, requestTimeout: config.chat3RequestTimeout)
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

/// Socket.IO `dialog:join` asks Chat3 (through the client's short membership cache).
struct Chat3DialogMembership: DialogMembershipChecking {
    let chat3: Chat3Client

    func isMember(_ userId: UserID, ofDialog dialogId: DialogRoomID) async throws -> Bool {
        guard let dialog = DialogID(rawValue: dialogId.rawValue) else { return false }
        return try await chat3.isMember(userId, of: dialog)
    }

    func memberRemoved(_ userId: UserID, fromDialog dialogId: DialogRoomID) {
        guard let dialog = DialogID(rawValue: dialogId.rawValue) else { return }
        chat3.forgetMembership(userId, of: dialog)
    }
}

extension RealTimeSetup {
    /// Production's server settings from the config (heartbeat, payload, socket limits); a test's own
    /// server configuration is kept.
    func configured(by config: ChatdConfig) -> RealTimeSetup {
        guard self.membership is UnwiredDialogMembership else { return self }
        let limits = config.limits
        var setup = self
        setup.trustedProxies = config.trustedProxies
        setup.server.connectTimeout = .milliseconds(Int64(limits.connectTimeout * 1000))
        setup.server.maxSessions = limits.maxSessions
        setup.server.maxSessionsPerAddress = limits.maxSessionsPerAddress
        setup.server.engine.pingInterval = .milliseconds(Int64(limits.pingInterval * 1000))
        setup.server.engine.pingTimeout = .milliseconds(Int64(limits.pingTimeout * 1000))
        setup.server.engine.maxPayload = limits.maxPayload
        setup.server.engine.maxPacketsPerPost = limits.maxPacketsPerPost
        setup.server.events = SocketEventLimits(inFlight: limits.eventsInFlight, queue: limits.eventQueue,
                                                perSecond: limits.eventsPerSecond, maxBytes: limits.maxEventBytes)
        setup.typingInterval = .milliseconds(Int64(limits.typingInterval * 1000))
        setup.membershipRefusalTTL = .milliseconds(Int64(limits.membershipRefusalTTL * 1000))
        return setup
    }

    /// Production's unwired placeholder replaced by the Chat3 check; an injected test double is kept.
    func withMembership(_ membership: any DialogMembershipChecking) -> RealTimeSetup {
        guard self.membership is UnwiredDialogMembership else { return self }
        var setup = self
        setup.membership = membership
        return setup
    }

    /// The same for whom presence is told to.
    func withCoMembers(_ coMembers: any CoMemberFinding) -> RealTimeSetup {
        guard self.coMembers is UnwiredCoMembers else { return self }
        var setup = self
        setup.coMembers = coMembers
        return setup
    }
}
