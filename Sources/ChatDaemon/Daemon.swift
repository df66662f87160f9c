import Chat3Client
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

    public var message: String {
        switch self {
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
    public let logger: Logger
}

/// The composition root: turns a config into a running chatd.
public enum Daemon {
    /// Opens the store, applies pending migrations and prepares secrets.
    public static func prepare(config: ChatdConfig, logger: Logger,
                               realTime realTimeSetup: RealTimeSetup = .production) async throws(StartupError) -> DaemonServices {
        let store: any UserStore
        do {
            store = try await StoreOpener.open(try StoreLocation(parsing: config.storeURL))
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
                                  sender: CodeSenders.make(config.smsSender, logger: logger), tokens: tokens, logger: logger,
                                  onUserCreated: { user in
                                      // Off the login path: a slow Chat3 must not delay the code.
                                      Task { await chat3.register(user, logger: logger) }
                                  })
        let pipeline: UpdatePipeline
        do { pipeline = try UpdatePipeline(config: config, metrics: metrics, logger: logger) } catch {
            throw .config(.invalid(key: "rabbitmq.url", reason: "\(error)"))
        }
        let relay: RoomRelay
        do { relay = try RoomRelay(config: config, logger: logger) } catch {
            throw .config(.invalid(key: "rabbitmq.url", reason: "\(error)"))
        }
        let subscribeWait = Duration.milliseconds(Int64(config.subscribeWaitSeconds * 1000))
        var setup = realTimeSetup.withMembership(Chat3DialogMembership(chat3: chat3))
        setup.server.engine.maxBufferedBytes = config.outboxLimitBytes
        setup.server.recoveryWindow = config.recoveryWindowSeconds > 0
            ? .milliseconds(Int64(config.recoveryWindowSeconds * 1000)) : nil
        let realTime = RealTimeHub(
            tokens: tokens, setup: setup,
            lifecycle: .init(connected: { pipeline.userConnected($0.rawValue) },
                             disconnected: { pipeline.userDisconnected($0.rawValue) },
                             // A subscribe takes milliseconds; the cap (rabbitmq.subscribe_wait) bounds what a
                             // busy broker adds to a connect, and must stay under clients' connect timeouts
                             // (socket.io-client's default is 20 s).
                             ready: { _ = await pipeline.waitUntilSubscribed($0.rawValue, timeout: subscribeWait) }),
            relay: relay, metrics: metrics, logger: logger)
        pipeline.attach(realTime)
        relay.attach { event, arguments, room in await realTime.deliverRelayed(event: event, args: arguments, room: room) }
        relay.attachKick { user in
            tokens.forget(user: user)
            await realTime.kick(user: user)
            logger.notice("user kicked on another instance's request", metadata: ["user.id": "\(user)"])
        }
        return DaemonServices(config: config, store: store, tokens: tokens, logins: logins, metrics: metrics,
                              pipeline: pipeline, realTime: realTime, relay: relay, chat3: chat3, logger: logger)
    }

    /// `origins` is the live CORS list a reload replaces; without one, the configured list stays fixed.
    public static func buildRouter(_ services: DaemonServices, origins: AllowedOrigins? = nil) -> Router<ChatRequestContext> {
        let router = Router(context: ChatRequestContext.self)
        // Outermost first: every response, errors included, is counted and gets security and CORS headers.
        router.add(middleware: HTTPMetricsMiddleware(metrics: services.metrics))
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: OriginsCORSMiddleware(origins: origins ?? AllowedOrigins(services.config.corsOrigins)))
        router.add(middleware: APIErrorMiddleware())
        let readiness = Readiness(checks: [
            "store": { await storeAnswers(services.store) },
            "rabbitmq": { services.pipeline.isConnected },
            "chat3": { await services.chat3.ping() },
        ])
        HealthRoutes(readiness: readiness).register(on: router)
        MetricsRoute(metrics: services.metrics, refresh: {
            services.metrics.amqpSubscriptions.set(to: Double(services.pipeline.subscriptionCount))
            services.metrics.websocketConnections.set(to: Double(await services.realTime.server.sessionCount))
            services.metrics.usersOnline.set(to: Double(await services.realTime.userCount()))
        }).register(on: router)
        AuthRoutes(services: services).register(on: router)
        ChatAPI.register(services, on: router)
        RealTimeRoutes(hub: services.realTime).register(on: router)
        return router
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
        let app = Application(
            router: router,
            server: RealTimeWebSocket.serverBuilder(hub: services.realTime),
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
        let serviceGroup = ServiceGroup(configuration: .init(
            // Shut down in reverse: sockets close first (clients reconnect elsewhere), then HTTP, then AMQP;
            // the control socket last, so status answers while draining.
            services: [.init(service: controlServer), .init(service: services.pipeline), .init(service: services.relay), .init(service: app),
                       .init(service: services.realTime)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        controller.onShutdown { await serviceGroup.triggerGracefulShutdown() }
        let watchdog = Task { await notifier.runWatchdog() }
        try await serviceGroup.run()
        watchdog.cancel()
        notifier.notify("STOPPING=1")
        await services.store.close()
        logger.notice("chatd stopped")
    }
}
