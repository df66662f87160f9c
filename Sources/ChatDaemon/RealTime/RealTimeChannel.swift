import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
import Synchronization

/// One HTTP connection of chatd's server: HTTP/1.1 for the router, or, when its first request is an
/// Engine.IO WebSocket upgrade the server takes, a WebSocket driven by `EngineIOWebSocketHandler` on
/// the connection's event loop.
///
/// Why not HummingbirdWebSocket's channel: it keeps several suspended tasks per WebSocket for the
/// connection's whole life (Hummingbird's connection task, WSCore's handler and inbound stream, a
/// reader), and a suspended task keeps every slab its stack grew to, which was three quarters of an
/// idle connection's memory (BENCHMARKS.md). Here an upgraded connection's task ends at the upgrade;
/// what stays is the channel, its handlers and the session.
struct RealTimeChannel: ServerChildChannel, HTTPChannelHandler {
    /// What the first request made of the connection.
    enum Negotiated: Sendable {
        /// HTTP/1.1 for the router.
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        /// An upgrade request the server refused: answered 400 and closed.
        case refusedUpgrade(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        /// A WebSocket: its handler owns the connection from here.
        case webSocket
    }

    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<Negotiated>
        let channel: any Channel
    }

    /// What the upgrade decision hands to the WebSocket it makes.
    struct UpgradeTarget: Sendable {
        let sid: String?
        let headers: [String: String]
        let address: String?
    }

    let responder: HTTPChannelHandler.Responder
    let http1: HTTP1Channel.Configuration
    let maxFrameSize: Int
    /// Decides an upgrade: nil refuses it (400).
    let shouldUpgrade: @Sendable (HTTPRequest, any Channel) async -> UpgradeTarget?
    /// Installs the WebSocket's handler behind NIO's frame codec.
    let makeWebSocket: @Sendable (UpgradeTarget, any Channel) throws -> Void

    init(responder: @escaping HTTPChannelHandler.Responder, http1: HTTP1Channel.Configuration, maxFrameSize: Int,
         shouldUpgrade: @escaping @Sendable (HTTPRequest, any Channel) async -> UpgradeTarget?,
         makeWebSocket: @escaping @Sendable (UpgradeTarget, any Channel) throws -> Void) {
        self.responder = Self.redirectingLateUpgrades(responder)
        self.http1 = http1
        self.maxFrameSize = maxFrameSize
        self.shouldUpgrade = shouldUpgrade
        self.makeWebSocket = makeWebSocket
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // Written by the upgrade decision, read when NIO installs the WebSocket: both on this loop.
            let decided = NIOLoopBoundBox<UpgradeTarget?>(nil, eventLoop: channel.eventLoop)
            let attempted = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
            let shouldUpgrade = shouldUpgrade
            let makeWebSocket = makeWebSocket
            let upgrader = NIOTypedWebSocketServerUpgrader<Negotiated>(
                maxFrameSize: maxFrameSize,
                enableAutomaticErrorHandling: true,
                shouldUpgrade: { channel, head in
                    attempted.value = true
                    guard let request = try? HTTPRequest(head, secure: false, splitCookie: false) else {
                        return channel.eventLoop.makeSucceededFuture(nil)
                    }
                    let promise = channel.eventLoop.makePromise(of: UpgradeTarget?.self)
                    promise.completeWithTask { await shouldUpgrade(request, channel) }
                    return promise.futureResult.map { target in
                        decided.value = target
                        return target == nil ? nil : HTTPHeaders()
                    }
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard let target = decided.value else { throw ChannelError.inappropriateOperationForState }
                        try makeWebSocket(target, channel)
                        return Negotiated.webSocket
                    }
                })
            let http1 = http1
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration<Negotiated>(
                upgradeConfiguration: NIOTypedHTTPServerUpgradeConfiguration(
                    upgraders: [upgrader],
                    notUpgradingCompletionHandler: { channel in
                        channel.eventLoop.makeCompletedFuture {
                            let sync = channel.pipeline.syncOperations
                            try sync.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                            try sync.addHandlers(http1.additionalChannelHandlers())
                            try sync.addHandler(HTTPConnectionStateHandler(
                                idleTimeout: http1.idleTimeout.map { Duration.nanoseconds($0.nanoseconds) }, logger: logger))
                            let http = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                                wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                            return attempted.value ? .refusedUpgrade(http) : .http(http)
                        }
                    }))
            configuration.enablePipelining = false  // NIOAsyncChannel serialises the requests
            configuration.enableErrorHandling = false  // Hummingbird answers parse errors
            configuration.enableResponseHeaderValidation = false  // HTTPTypes validated them
            configuration.decoderConfiguration.maxHeaderFieldSize = http1.httpDecoder.maxHeaderFieldSize
            configuration.decoderConfiguration.maxHeaderListSize = http1.httpDecoder.maxHeaderListSize
            configuration.decoderConfiguration.maxHeaderFieldCount = http1.httpDecoder.maxHeaderFieldCount
            let negotiated = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(
                configuration: configuration)
            return Value(negotiated: negotiated, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .refusedUpgrade(let http):
                await Self.refuse(http)
            case .webSocket:
                // The connection's task ends here; the WebSocket lives on in its handler.
                return
            }
        } catch {
            logger.debug("connection ended before its first request was handled", metadata: ["error": "\(error)"])
        }
    }

    /// A bare 400 for a refused upgrade, then close (HummingbirdWebSocket's answer, which clients know).
    private static func refuse(_ http: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>) async {
        try? await http.executeThenClose { _, outbound in
            try await outbound.write(contentsOf: [
                .head(HTTPResponse(status: .badRequest, headerFields: [.connection: "close", .contentLength: "0"])),
                .end(nil),
            ])
        }
    }

    /// NIO looks for an upgrade only in a connection's first request. A later one on a keep-alive
    /// connection is sent to a new connection (307 to itself, then close), where the upgrade can run.
    private static func redirectingLateUpgrades(_ responder: @escaping HTTPChannelHandler.Responder) -> HTTPChannelHandler.Responder {
        struct ClosingAfterRedirect: Error {}
        return { request, writer, channel in
            guard request.headers[.upgrade]?.lowercased() == "websocket" else {
                return try await responder(request, writer, channel)
            }
            var location = request.uri.path
            if let query = request.uri.query { location += "?\(query)" }
            try await writer.writeResponse(HTTPResponse(status: .temporaryRedirect,
                                                        headerFields: [.connection: "close", .location: location]))
            throw ClosingAfterRedirect()
        }
    }
}
