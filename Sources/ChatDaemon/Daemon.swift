import Chat3Client
import ChatApp
import ChatAuth
import ChatConfig
import ChatCore
import ChatStore
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle

/// Why chatd cannot start; the executable maps each to a sysexits status.
public enum StartupError: Error {
    case config(ConfigError)
    case storeUnavailable(String)
    case stateDirectory(String)
    case controlSocket(String)
    /// The HTTP address cannot be bound (port in use, privileged port, address not on this host).
    case listen(address: String, reason: String)

    public var message: String {
        switch self {
        case .listen(let address, let reason): "cannot listen on \(address): \(reason)"
        case .config(let error): error.message
        case .storeUnavailable(let why): "store unavailable: \(why)"
        case .stateDirectory(let why): "state directory: \(why)"
        case .controlSocket(let why): why
        }
    }

    public var exitStatus: Int32 {
        switch self {
        case .config: 78
        case .storeUnavailable: 69
        case .stateDirectory: 73
        case .controlSocket: 73
        case .listen: 73
        }
    }
}

/// Everything the routes and services share, built once at start.
public struct DaemonServices: Sendable {
    public let config: ChatdConfig
    public let store: any UserStore
    public let tokens: TokenService
    public let logins: LoginService
    public let metrics: ChatMetrics
    /// Chat3 updates from RabbitMQ to users' sockets.
    public let pipeline: UpdatePipeline
    /// The Socket.IO endpoint: emit to a user's sockets, counts, kick, drain.
    public let realTime: RealTimeHub
    /// Typing and presence between instances.
    public let relay: RoomRelay
    /// The Chat3 tenant API.
    public let chat3: Chat3Client
    /// Who may read or change a dialog (members, creators), asked by every route and event that touches one.
    public let conversations: Conversations
    public let logger: Logger
}

/// The composition root: turns a config into a running chatd.
public enum Daemon {
    /// Opens the store, applies pending migrations and prepares secrets.
    public static func prepare(config: ChatdConfig, logger: Logger,
                               realTime overrides: RealTimeOverrides = .none) async throws(StartupError) -> DaemonServices {
        let store: any UserStore
        do {
            // chatd creates a missing SQLite store (admin tools do not): 0600, or 0660 for the operator group.
            store = try await StoreOpener.open(try StoreLocation(parsing: config.storeURL), create: true,
                                               group: config.operatorGroup)
            let reports = try await MigrationPlan.standard.up(store, dryRun: false)
            for report in reports where report.affected > 0 {
                logger.notice("migration applied", metadata: ["migration": "\(report.id)", "rows": "\(report.affected)"])
            }
        } catch let error as StoreError {
            if case .invalid(let why) = error { throw .config(.invalid(key: "store.url", reason: why)) }
            throw .storeUnavailable(error.message)
        } catch {
            throw .storeUnavailable("\(error)")
        }
        let secret: String
        if let configured = config.jwtSecret {
            secret = configured
        } else {
            do { secret = try DevSecret.loadOrCreate(stateDirectory: config.stateDirectory) } catch {
                throw .stateDirectory("cannot keep the development secret in \(config.stateDirectory): \(error)")
            }
        }
        let tokens = await TokenService(secret: secret, lifetimeSeconds: config.jwtLifetimeSeconds, store: store)
        let metrics = ChatMetrics()
        let chat3 = Chat3Client.make(config: config, metrics: metrics, logger: logger)
        let logins = LoginService(store: store, policy: LoginPolicy(config: config),
                                  codes: OneTimeCode(serverSecret: secret, length: config.codeLength),
                                  sender: CodeSenders.make(config, logger: logger), tokens: tokens, logger: logger,
                                  onUserCreated: { user in
                                      // Off the login path: a slow Chat3 must not delay the code.
                                      Task { await chat3.register(user, logger: logger) }
                                  })
        let userQueues: UserQueues
        do { userQueues = try UserQueues(config: config, metrics: metrics, logger: logger) } catch {
            throw .config(.invalid(key: "rabbitmq.url", reason: "\(error)"))
        }
        let relay: RoomRelay
        do { relay = try RoomRelay(config: config, logger: logger) } catch {
            throw .config(.invalid(key: "rabbitmq.url", reason: "\(error)"))
        }
        let subscribeWait = Duration.milliseconds(Int64(config.subscribeWaitSeconds * 1000))
        let conversations = Conversations(directory: chat3)
        let setup = RealTimeSetup(config: config, chat3: chat3, conversations: conversations, overrides: overrides)
        let realTime = RealTimeHub(
            tokens: tokens, setup: setup,
            lifecycle: .init(connected: { userQueues.userConnected($0.rawValue) },
                             disconnected: { userQueues.userDisconnected($0.rawValue) },
                             // A subscribe takes milliseconds; the cap (rabbitmq.subscribe_wait) bounds what a
                             // busy broker adds to a connect, and must stay under clients' connect timeouts
                             // (socket.io-client's default is 20 s).
                             ready: { _ = await userQueues.waitUntilSubscribed($0.rawValue, timeout: subscribeWait) }),
            relay: relay, metrics: metrics, names: UserNames { id in try? await store.user(id: id)?.name.value },
            limitHit: { metrics.limitHits($0).increment() },
            sessionRecheck: .milliseconds(Int64(config.sessionRecheckSeconds * 1000)), logger: logger)
        let pipeline = UpdatePipeline(userQueues: userQueues, sockets: realTime)
        return DaemonServices(config: config, store: store, tokens: tokens, logins: logins, metrics: metrics,
                              pipeline: pipeline, realTime: realTime, relay: relay, chat3: chat3,
                              conversations: conversations, logger: logger)
    }

    /// `origins` is the live CORS list a reload replaces; without one, the configured list stays fixed.
    public static func buildRouter(_ services: DaemonServices, origins: AllowedOrigins? = nil) -> Router<ChatRequestContext> {
        let router = Router(context: ChatRequestContext.self)
        // Outermost first: every response, errors included, is counted and gets security and CORS headers.
        router.add(middleware: HTTPMetricsMiddleware(metrics: services.metrics))
        router.add(middleware: ResponseHeadersMiddleware(origins: origins ?? AllowedOrigins(services.config.corsOrigins)))
        let known = KnownRoutes()
        router.add(middleware: APIErrorMiddleware(known: known))
        let readiness = Readiness(checks: [
            "store": { await storeAnswers(services.store) },
            "rabbitmq": { services.pipeline.isConnected },
            "chat3": { await services.chat3.ping() },
        ])
        HealthRoutes(readiness: readiness, isDraining: { services.realTime.isDraining }).register(on: router)
        MetricsRoute(metrics: services.metrics, refresh: {
            services.metrics.amqpSubscriptions.set(to: Double(services.pipeline.subscriptionCount))
            services.metrics.websocketConnections.set(to: Double(await services.realTime.server.sessionCount))
            services.metrics.usersOnline.set(to: Double(await services.realTime.userCount()))
            services.metrics.recordDependencies(rabbitMQ: services.pipeline.isConnected,
                                                store: await storeAnswers(services.store),
                                                chat3Breaker: services.chat3.breaker.state.rawValue)
        }).register(on: router)
        AuthRoutes(services: services).register(on: router)
        ChatAPI.register(services, on: router)
        RealTimeRoutes(hub: services.realTime).register(on: router)
        known.set(router.routes.map { ("\($0.path)", $0.method.rawValue) })
        return router
    }

    static func bindReason(_ code: Int32) -> String {
        let text = String(cString: strerror(code)).lowercased()
        switch code {
        case EADDRINUSE: return "\(text) (another process holds the port; see ss -ltnp)"
        case EACCES: return "\(text) (ports below 1024 need CAP_NET_BIND_SERVICE)"
        case EADDRNOTAVAIL: return "\(text) (no such address on this host; check server.host)"
        default: return text
        }
    }

    static func storeAnswers(_ store: any UserStore) async -> Bool {
        do { _ = try await store.appliedMigrations(); return true } catch { return false }
    }

    /// Runs until SIGTERM or SIGINT, then drains and returns.
    public static func run(_ services: DaemonServices, notifier: SystemdNotifier = SystemdNotifier(environment: [:]),
                           control: DaemonControlOptions? = nil,
                           onReady: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let config = services.config
        let logger = services.logger
        let origins = AllowedOrigins(config.corsOrigins)
        let router = buildRouter(services, origins: origins)
        let started = Date()
        // Ready once both HTTP and the control socket listen, so `chatctl daemon status` answers at once.
        let readiness = ReadinessGate(waitingFor: [.http, .control]) { port in
            logger.notice("chatd ready", metadata: [
                "http.port": "\(port)", "store": "\(services.store.location)",
                "startup.ms": "\(Int(Date().timeIntervalSince(started) * 1000))",
            ])
            notifier.notify("READY=1\nSTATUS=serving on port \(port)")
            onReady(port)
        }
        let limits = config.limits
        let metrics = services.metrics
        let connections = ConnectionTracker(
            limits: .init(maxConnections: limits.maxConnections, maxConnectionsPerAddress: limits.maxConnectionsPerAddress,
                          requestHeadTimeout: .seconds(limits.requestHeadTimeout)),
            trustedProxies: config.trustedProxies, refusals: AddressRefusalLog(logger: logger),
            limitHit: { metrics.limitHits($0).increment() })
        let app = Application(
            router: router,
            server: RealTimeWebSocket.serverBuilder(hub: services.realTime, connections: connections,
                                                    idleTimeout: .seconds(limits.idleTimeout),
                                                    requestBodyTimeout: .seconds(limits.requestBodyTimeout)),
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: nil),
            onServerRunning: { channel in readiness.listening(.http, port: channel.localAddress?.port ?? config.port) },
            logger: logger)
        // Set up before serving, so a second chatd on the same control socket stops here.
        let controller = LiveDaemonControl(services: services, options: control ?? .fixed(config),
                                           origins: origins, startedAt: started)
        let controlServer: ControlServer
        do {
            controlServer = try ControlServer(path: config.controlSocket, operatorGroup: config.operatorGroup,
                                              controller: controller, logger: logger,
                                              onListening: { readiness.listening(.control) })
        } catch { throw StartupError.controlSocket(error.description) }
        // Before serving: a second chatd with this instance's queues refuses (exit 78), see InstanceLock.
        let instanceLock: InstanceLock
        do { instanceLock = try InstanceLock(config: config, logger: logger) } catch {
            throw StartupError.config(.invalid(key: "rabbitmq.url", reason: "\(error)"))
        }
        try await instanceLock.acquireAtStartup()
        let deadline = ShutdownDeadline(timeout: .seconds(limits.shutdownTimeout), connections: connections,
                                        openSessions: { await services.realTime.server.sessionCount }, logger: logger)
        let serviceGroup = ServiceGroup(configuration: .init(
            // Shut down in reverse: the deadline starts (server.shutdown_timeout), sockets close (clients
            // reconnect elsewhere), then HTTP, then AMQP; the control socket last, so status answers while
            // draining.
            services: [.init(service: controlServer), .init(service: instanceLock), .init(service: services.pipeline), .init(service: services.relay),
                       .init(service: RelayInbox(incoming: services.relay.incoming, hub: services.realTime,
                                                 tokens: services.tokens, logger: logger)),
                       .init(service: app),
                       .init(service: services.realTime), .init(service: deadline)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        controller.onShutdown { await serviceGroup.triggerGracefulShutdown() }
        instanceLock.onTaken { await serviceGroup.triggerGracefulShutdown() }
        let watchdog = Task { await notifier.runWatchdog() }
        do { try await serviceGroup.run() } catch let error as IOError where !readiness.isListening(.http) {
            // Before HTTP listened, a socket error can only be the bind: say which address and why, once.
            deadline.finished()
            watchdog.cancel()
            await services.store.close()
            throw StartupError.listen(address: "\(config.host):\(config.port)", reason: Self.bindReason(error.errnoCode))
        }
        deadline.finished()
        watchdog.cancel()
        notifier.notify("STOPPING=1")
        await services.store.close()
        if instanceLock.wasTaken { throw InstanceTaken(message: instanceLock.refusal) }
        logger.notice("chatd stopped")
    }
}
