import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import SocketIO

/// The Socket.IO conformance server: a raw Engine.IO echo at `/engine.io/` and the project's
/// `SocketIOServer` with `ConformanceHandlers` at `/socket.io/`, both with the heartbeat the official
/// test suites assume (ping every 300 ms, 200 ms to answer) and a 1 MB `maxPayload`.
public struct ConformanceServer: Sendable {
    public static let engine = EngineIOConfiguration(
        pingInterval: .milliseconds(300), pingTimeout: .milliseconds(200), maxPayload: 1_000_000)
    /// The resolution of the heartbeat timers; requests also run due timers before they are answered.
    static let sweepInterval = Duration.milliseconds(20)

    public let echo: EngineIOEchoServer
    public let socketIO: SocketIOServer

    public let configuration: EngineIOConfiguration

    /// - Parameter engine: the suites' heartbeat by default; tests that must not race a loaded machine's
    ///   scheduler against a 200 ms pong timeout pass a longer one.
    /// - Parameter ackTimeout: how long `emit-with-ack` waits for the client's answer (the suites' 200 ms
    ///   by default; the project's tests give a loaded machine longer).
    public init(engine: EngineIOConfiguration = ConformanceServer.engine, ackTimeout: Duration = .milliseconds(200)) {
        configuration = engine
        echo = EngineIOEchoServer(configuration: engine)
        socketIO = ConformanceHandlers(ackTimeout: ackTimeout).makeServer(
            configuration: SocketIOServer.Configuration(engine: engine, sweepInterval: Self.sweepInterval,
                                                        namespaces: ConformanceHandlers.namespaces))
    }

    /// Serves until the task is cancelled; `onReady` gets the bound port (useful with port 0).
    public func run(host: String = "127.0.0.1", port: Int, logger: Logger,
                    onReady: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let maxPayload = configuration.maxPayload
        let echoMount = EngineIOMount(path: "/engine.io", endpoint: echo, maxPayload: maxPayload)
        let socketIOMount = EngineIOMount(path: "/socket.io", endpoint: socketIO, maxPayload: maxPayload)
        let router = Router()
        echoMount.register(on: router)
        socketIOMount.register(on: router)
        let webSocket = HTTP1WebSocketUpgradeChannel.Configuration(
            ws: WebSocketServerConfiguration(maxFrameSize: maxPayload + 1024, autoPing: .disabled))
        let server = HTTPServerBuilder.http1WebSocketUpgrade(configuration: webSocket) { request, channel, logger in
            if let sid = await echoMount.upgradeTarget(request) {
                return .upgrade([:]) { inbound, outbound, _ in
                    await echoMount.serve(sid: sid, inbound: inbound, outbound: outbound, channel: channel, logger: logger)
                }
            }
            if let sid = await socketIOMount.upgradeTarget(request) {
                return .upgrade([:]) { inbound, outbound, _ in
                    await socketIOMount.serve(sid: sid, inbound: inbound, outbound: outbound, channel: channel, logger: logger)
                }
            }
            return ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>>.dontUpgrade
        }
        let app = Application(
            router: router, server: server,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onReady(channel.localAddress?.port ?? port) },
            logger: logger)
        let echo = self.echo
        let socketIO = self.socketIO
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await echo.run(interval: Self.sweepInterval) }
            group.addTask { await socketIO.run() }
            group.addTask { try await app.runService() }
            try await group.next()
            group.cancelAll()
        }
    }
}
