import ChatAuth
import ChatConfig
import ChatControl
import ChatCore
import Foundation
import Logging
import Synchronization

/// What the executable hands the daemon for its control channel: the process's log level switch
/// and how to read the configuration again (same flags, environment and file as at start).
public struct DaemonControlOptions: Sendable {
    public var logLevel: LogLevelSwitch
    public var reloadConfig: @Sendable () throws -> ChatdConfig

    public init(logLevel: LogLevelSwitch, reloadConfig: @escaping @Sendable () throws -> ChatdConfig) {
        self.logLevel = logLevel
        self.reloadConfig = reloadConfig
    }
}

/// What the control socket can ask of the running daemon, over its services: each control endpoint's
/// handler (`ControlRoutes.handle`) calls one method here.
public final class LiveDaemonControl: Sendable {
    let services: DaemonServices
    let options: DaemonControlOptions
    let startedAt: Date
    /// The CORS list the HTTP router reads per request.
    let origins: AllowedOrigins
    private let config: Mutex<ChatdConfig>
    private let shutdownAction = Mutex<(@Sendable () async -> Void)?>(nil)

    public init(services: DaemonServices, options: DaemonControlOptions, origins: AllowedOrigins, startedAt: Date = Date()) {
        self.services = services
        self.options = options
        self.origins = origins
        self.startedAt = startedAt
        config = Mutex(services.config)
    }

    /// The configuration in effect (the start one, or the last reloaded one).
    public var currentConfig: ChatdConfig { config.withLock { $0 } }

    /// Set once the service group exists: how `shutdown()` starts a graceful stop.
    public func onShutdown(_ action: @escaping @Sendable () async -> Void) {
        shutdownAction.withLock { $0 = action }
    }

    public func status() async -> DaemonStatus {
        async let storeUp = Daemon.storeAnswers(services.store)
        async let chat3State = chat3State()
        let hub = services.realTime
        return DaemonStatus(
            version: ChatdVersion.current, pid: getpid(), startedAt: startedAt,
            uptimeSeconds: Date().timeIntervalSince(startedAt),
            connections: await hub.connectionCount(), usersOnline: await hub.userCount(),
            subscriptions: services.pipeline.subscriptionCount, draining: hub.isDraining,
            logLevel: ControlLogLevel(options.logLevel.current),
            broker: services.pipeline.isConnected ? .up : .down,
            store: await storeUp ? .up : .down,
            chat3: await chat3State,
            configDigest: currentConfig.digest)
    }

    /// Chat3's answer to a cheap request; `unknown` when it takes longer than a status should.
    func chat3State() async -> DependencyState {
        let chat3 = services.chat3
        return await withTaskGroup(of: DependencyState.self) { group in
            group.addTask { await chat3.ping() ? .up : .down }
            group.addTask {
                try? await Task.sleep(for: .seconds(1))
                return .unknown
            }
            let first = await group.next() ?? .unknown
            group.cancelAll()
            return first
        }
    }

    public func connections() async -> [ConnectionInfo] {
        let server = services.realTime.server
        var list: [ConnectionInfo] = []
        for user in await server.connectedUserIDs.sorted(by: { $0.rawValue < $1.rawValue }) {
            let sockets = await server.sockets(of: user)
            var rooms = Set<String>()
            for socket in sockets { rooms.formUnion(await server.rooms(of: socket)) }
            list.append(ConnectionInfo(userId: user.rawValue, sockets: sockets.count, rooms: rooms.sorted()))
        }
        return list
    }

    public func kick(user: UserID) async -> Int {
        // First, so neither a reconnect nor an HTTP call rides on a token accepted a moment ago: after
        // `chatctl user disable` (which kicks), the disable is enforced here at once.
        services.tokens.forget(user: user)
        let count = await services.realTime.server.sockets(of: user).count
        await services.realTime.kick(user: user)
        // The user may have sockets on other instances too: they do the same when this reaches them.
        services.relay.relayKick(user)
        services.logger.notice("user kicked", metadata: ["user.id": "\(user)", "socket.count": "\(count)"])
        return count
    }

    public func revoke(tokenID: String) async -> Int {
        services.tokens.forget(tokenID: tokenID)
        let closed = await services.realTime.closeSessions(tokenID: tokenID)
        // The token's other sockets may be on other instances: they close theirs when this reaches them.
        services.relay.relayRevoke(tokenID: tokenID)
        services.logger.notice("token's sockets closed", metadata: ["socket.count": "\(closed)"])
        return closed
    }

    public func drain() async -> Int {
        let count = await services.realTime.connectionCount()
        await services.realTime.closeAllSessions()
        services.logger.notice("draining: new sockets refused, existing closed", metadata: ["socket.count": "\(count)"])
        return count
    }

    public func reload() async throws(ControlFailure) -> ReloadResult {
        let fresh: ChatdConfig
        do { fresh = try options.reloadConfig() } catch {
            throw .invalidConfig((error as? ConfigError)?.message ?? "\(error)")
        }
        let previous = config.withLock { config in
            let previous = config
            config = fresh
            return previous
        }
        let changed = ReloadDiff.changedKeys(previous, fresh)
        // Everything in `ReloadDiff.liveKeys` is set here; its readers look it up per use.
        options.logLevel.set(Logger.Level(fresh.logLevel))
        origins.set(fresh.corsOrigins)
        services.logins.policies.set(LoginPolicy(config: fresh))
        let applied = changed.filter(ReloadDiff.liveKeys.contains)
        return ReloadResult(configDigest: fresh.digest, logLevel: ControlLogLevel(options.logLevel.current),
                            applied: applied, restartRequired: changed.filter { !ReloadDiff.liveKeys.contains($0) })
    }

    public func setLogLevel(_ level: ControlLogLevel) async -> ControlLogLevel {
        let previous = options.logLevel.set(Logger.Level(level))
        services.logger.notice("log level changed", metadata: ["log.level": "\(level.rawValue)", "log.previous": "\(previous)"])
        return ControlLogLevel(previous)
    }

    public func shutdown() async {
        services.logger.notice("shutdown requested on the control socket")
        guard let action = shutdownAction.withLock({ $0 }) else { return }
        // Detached so the request is answered before the servers start closing.
        Task {
            try? await Task.sleep(for: .milliseconds(50))
            await action()
        }
    }
}

/// Which configuration keys changed between two loads, and which of them apply without a restart.
enum ReloadDiff {
    /// Settings read on every use. `auth.code_length` is not among them: the code generator is built
    /// once at start, and codes already sent must keep verifying.
    static let liveKeys: Set<String> = [
        "log.level", "server.cors_origins",
        "auth.code_ttl", "auth.max_attempts", "auth.resend_cooldown", "auth.phone_hourly_limit", "auth.ip_hourly_limit",
        "auth.verify_phone_hourly_limit", "auth.verify_ip_hourly_limit",
    ]

    /// Keys whose effective text differs, by name (see `ChatdConfig.settings`).
    static func changedKeys(_ old: ChatdConfig, _ new: ChatdConfig) -> [String] {
        old.changedKeys(to: new)
    }
}

extension ControlLogLevel {
    init(_ level: Logger.Level) {
        self = ControlLogLevel(rawValue: level.rawValue) ?? .info
    }
}

extension Logger.Level {
    init(_ level: ControlLogLevel) {
        self = Logger.Level(rawValue: level.rawValue) ?? .info
    }

    init(_ level: ChatdConfig.LogLevel) {
        self = Logger.Level(rawValue: level.rawValue) ?? .info
    }
}

extension DaemonControlOptions {
    /// For daemons run in-process (tests): a private level switch, and reload keeps `config`.
    public static func fixed(_ config: ChatdConfig) -> DaemonControlOptions {
        DaemonControlOptions(logLevel: LogLevelSwitch(Logger.Level(config.logLevel)), reloadConfig: { config })
    }
}
