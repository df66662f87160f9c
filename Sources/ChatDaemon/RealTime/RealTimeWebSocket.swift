import ChatCore
import HTTPTypes
import Hummingbird
// HTTPServerBuilder and URI; HummingbirdCore comes with Hummingbird.
import HummingbirdCore
import Logging
import NIOCore
import NIOWebSocket
import SocketIO
import Synchronization

/// Engine.IO over WebSocket: the HTTP server builder chatd runs with. Only `GET /socket.io/?EIO=4&
/// transport=websocket` upgrades, and only when the Engine.IO server would take it (not draining, a
/// known sid); every refused upgrade (other paths, draining, unknown sid) gets a bare 400 and the
/// connection closes. Requests without `Upgrade` go to the router as usual (`RealTimeChannel`).
public enum RealTimeWebSocket {
    /// Frames up to 1 MiB, above `maxHttpBufferSize` (1 MB), so the Engine.IO layer sees oversized
    /// messages and closes the session itself. WebSocket-level pings are never sent: Engine.IO has its own.
    ///
    /// With `connections`, every connection passes `ConnectionGuardHandler` first (caps, request-head
    /// timeout, closing on shutdown); `idleTimeout` closes keep-alive connections without a request.
    /// With `connections`, `requestBodyTimeout` bounds each request from head to end and idle closes
    /// are counted (`RequestTimeouts`).
    public static func serverBuilder(hub: RealTimeHub, connections: ConnectionTracker? = nil,
                                     idleTimeout: Duration? = nil, requestBodyTimeout: Duration? = nil) -> HTTPServerBuilder {
        let maxPayload = hub.configuration.engine.maxPayload
        var http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: {
                guard let connections, requestBodyTimeout != nil || idleTimeout != nil else { return [] }
                return [RequestTimeouts(bodyTimeout: requestBodyTimeout, idleTimeout: idleTimeout,
                                        limitHit: connections.limitHit)]
            }(),
            idleTimeout: idleTimeout.map(TimeAmount.init))
        // A request head (the token in Authorization included) fits in 16 KiB; larger ones are refused
        // before anything is kept for them.
        http1.httpDecoder.maxHeaderListSize = 16 * 1024
        http1.httpDecoder.maxHeaderFieldSize = 16 * 1024
        let maxMessage = maxPayload + 1024
        let http1Configuration = http1
        let shouldUpgrade: @Sendable (HTTPRequest, any Channel) async -> RealTimeChannel.UpgradeTarget? = { request, channel in
            guard let sid = await upgradeTarget(request, hub: hub) else { return nil }
            let address = hub.trustedProxies.limitAddress(peer: channel.remoteAddress?.ipAddress ?? "unknown",
                                                           forwardedFor: request.headerFields[AuthRoutes.forwardedFor])
            return .init(sid: sid, headers: RealTimeRoutes.handshakeHeaders(request.headerFields), address: address)
        }
        let makeWebSocket: @Sendable (RealTimeChannel.UpgradeTarget, any Channel) throws -> Void = { target, channel in
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1024,
                                                            maxAccumulatedFrameSize: maxMessage))
            try sync.addHandler(EngineIOWebSocketHandler(target: target, hub: hub))
        }
        return HTTPServerBuilder { responder in
            let channel = RealTimeChannel(responder: responder, http1: http1Configuration, maxFrameSize: max(1 << 20, maxMessage),
                                          shouldUpgrade: shouldUpgrade, makeWebSocket: makeWebSocket)
            guard let connections else { return channel }
            return GuardedChildChannel(inner: channel, tracker: connections)
        }
    }

    /// `.some(sid)` (nil for a new session) when the request should become an Engine.IO WebSocket.
    static func upgradeTarget(_ request: HTTPRequest, hub: RealTimeHub) async -> String?? {
        guard request.method == .get, let path = request.path else { return nil }
        let transport = EngineIOTransport.websocket
        let uri = URI(path)
        guard uri.path == RealTimeRoutes.path || uri.path == RealTimeRoutes.path + "/",
              let target = try? EngineIORequestTarget(query: RealTimeRoutes.query(uri)),
              target.transport == transport
        else { return nil }
        guard let sid = target.sid else { return hub.isDraining ? nil : .some(nil) }
        // Only a polling session can upgrade: a second WebSocket for an upgrading or upgraded one is
        // refused before the 101 (the HTTP route answers 400), rather than accepted and closed at once.
        return await hub.server.sessionState(sid: sid) == .polling ? .some(sid) : nil
    }
}

/// Drains an `EngineIOWebSocketOutbox` into a WebSocket channel from the channel's own event loop, so
/// a batch costs one hop onto the loop and none back: frames written from outside the loop would each
/// be a hop (and often a wakeup) of their own, and a writer task would be woken for every batch and
/// again for its write's completion. A frame is reported written once the channel wrote it; the next
/// batch is taken when the last one's write completed, so a peer that does not read holds the pump.
final class WebSocketFramePump: Sendable {
    enum End: Sendable { case drained, failed, cancelled }

    private let channel: any Channel
    private let outbox: EngineIOWebSocketOutbox
    private let end = Mutex<(outcome: End?, onEnd: (@Sendable (End) -> Void)?)>((nil, nil))

    init(channel: any Channel, outbox: EngineIOWebSocketOutbox) {
        self.channel = channel
        self.outbox = outbox
    }

    /// Pumps until the outbox is closed and drained (`drained`), a write fails (`failed`) or `stop` is
    /// called (`cancelled`; what is queued then is the caller's to abandon). `onEnd` is called once, on
    /// the event loop.
    func start(onEnd: @escaping @Sendable (End) -> Void) {
        end.withLock { $0.onEnd = onEnd }
        if channel.eventLoop.inEventLoop { pump() } else { channel.eventLoop.execute { self.pump() } }
    }

    /// On the event loop.
    private func pump() {
        guard end.withLock({ $0.outcome == nil }) else { return }
        switch outbox.takeBatch() {
        case .empty:
            outbox.whenReady { [self] in
                if channel.eventLoop.inEventLoop { pump() } else { channel.eventLoop.execute { self.pump() } }
            }
        case .finished:
            finish(.drained)
        case .frames(let batch):
            var last = channel.eventLoop.makeSucceededVoidFuture()
            for frame in batch {
                let future = switch EngineIOPacketData(webSocketFrame: frame.text) {
                case .text(let text):
                    channel.write(WebSocketFrame(fin: true, opcode: .text, data: channel.allocator.buffer(string: text)))
                case .binary(let bytes):
                    channel.write(WebSocketFrame(fin: true, opcode: .binary, data: channel.allocator.buffer(bytes: bytes)))
                }
                if let written = frame.written {
                    future.whenComplete { result in
                        if case .success = result { written(true) } else { written(false) }
                    }
                }
                last = future
            }
            channel.flush()
            last.whenComplete { [self] result in
                if case .success = result { pump() } else { finish(.failed) }
            }
        }
    }

    /// Ends the pump (with `cancelled`) from outside: the connection ended. On the event loop.
    func stop() {
        finish(.cancelled)
    }

    private func finish(_ outcome: End) {
        let onEnd = end.withLock { end -> (@Sendable (End) -> Void)? in
            guard end.outcome == nil else { return nil }
            end.outcome = outcome
            defer { end.onEnd = nil }
            return end.onEnd
        }
        onEnd?(outcome)
    }
}
