import ChatCore
import HTTPTypes
import Hummingbird
// HTTPServerBuilder and URI; HummingbirdCore comes with Hummingbird.
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import SocketIO
import Synchronization

/// Engine.IO over WebSocket: the HTTP server builder chatd runs with. Only `GET /socket.io/?EIO=4&
/// transport=websocket` upgrades, and only when the Engine.IO server would take it (not draining, a
/// known sid). HummingbirdWebSocket answers every refused upgrade (other paths, draining, unknown sid)
/// with a bare 400 and closes; requests without `Upgrade` go to the router as usual.
public enum RealTimeWebSocket {
    /// Frames up to 1 MiB, above `maxHttpBufferSize` (1 MB), so the Engine.IO layer sees oversized
    /// messages and closes the session itself. WebSocket-level pings are off: Engine.IO has its own.
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
        let configuration = HTTP1WebSocketUpgradeChannel.Configuration(
            http1: http1,
            ws: WebSocketServerConfiguration(maxFrameSize: max(1 << 20, maxPayload + 1024), autoPing: .disabled))
        let shouldUpgrade: @Sendable (HTTPRequest, any Channel, Logger) async throws
            -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> = { request, channel, _ in
            guard let sid = await upgradeTarget(request, hub: hub) else { return .dontUpgrade }
            let headers = RealTimeRoutes.handshakeHeaders(request.headerFields)
            let address = hub.trustedProxies.limitAddress(peer: channel.remoteAddress?.ipAddress ?? "unknown",
                                                           forwardedFor: request.headerFields[AuthRoutes.forwardedFor])
            return .upgrade([:]) { inbound, outbound, _ in
                await serve(sid: sid, headers: headers, address: address, inbound: inbound, outbound: outbound,
                            channel: channel, hub: hub, maxMessage: maxPayload + 1024)
            }
        }
        return HTTPServerBuilder { responder in
            let channel = HTTP1WebSocketUpgradeChannel(responder: responder, configuration: configuration,
                                                       shouldUpgrade: shouldUpgrade)
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

    /// How long a WebSocket whose session ended may take to write its last frames and answer the close.
    static let closeGrace: TimeAmount = .seconds(5)

    /// Pumps one WebSocket: inbound frames to the server in order, the server's frames out. Whichever
    /// side ends first ends both.
    static func serve(sid: String?, headers: [String: String], address: String?, inbound: WebSocketInboundStream,
                      outbound: WebSocketOutboundWriter, channel: any Channel, hub: RealTimeHub,
                      maxMessage: Int) async {
        let server = hub.server
        let limit = hub.configuration.engine.maxBufferedBytes
        let readerEnded = OneShotSignal()
        let outbox = EngineIOWebSocketOutbox(limitBytes: limit, onOverflow: { [logger = hub.logger, metrics = hub.metrics] in
            // The peer stopped reading: cut it so its session ends and its unwritten updates go back
            // to RabbitMQ instead of piling up here.
            logger.warning("socket outbox full, session closed", metadata: [
                "reason": "outbox_overflow", "realtime.outbox_limit": "\(limit)",
            ])
            metrics?.sessionsClosed("outbox_overflow").increment()
            // Output first: what the kernel already took still reaches a peer that reads, then FIN. A full
            // close with unread input would be a reset, and a reset drops those frames, which count as
            // written. The rest of the connection goes a moment later.
            channel.close(mode: .output, promise: nil)
            channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
        }, onClose: {
            // The session ended: its last frames and the close handshake get `closeGrace`, then the
            // connection goes, whatever the pump is doing. A peer that neither reads nor answers holds
            // the pump's write forever (and the kernel's send buffer, up to `tcp_wmem`'s cap); frames
            // still unwritten then are reported so and their updates stay in RabbitMQ. The reader is
            // released too, in case the close does not end its inbound stream.
            channel.eventLoop.scheduleTask(in: closeGrace) {
                channel.close(promise: nil)
                readerEnded.fire()
            }
        })
        let connection: EngineIOWebSocketConnection
        do {
            connection = try await server.attachWebSocket(sid: sid, headers: headers, writer: outbox, address: address)
        } catch {
            hub.logger.debug("websocket refused", metadata: ["error": "\(error)"])
            return
        }
        // The pump writes on the channel's event loop (see `WebSocketFramePump`); this task only waits
        // for its end, and the reader is the one child task. A task per socket costs its object and the
        // slabs its frames grow to for the connection's whole life. A peer that does not read holds the
        // pump, and the outbox fills up to its limit.
        let pump = WebSocketFramePump(channel: channel, outbox: outbox)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await message in inbound.messages(maxSize: maxMessage) {
                        switch message {
                        case .text(let text): await server.receive(text, on: connection)
                        case .binary(let buffer): await server.receive(binary: Array(buffer.readableBytesView), on: connection)
                        }
                    }
                } catch {
                    hub.logger.debug("websocket read failed", metadata: ["error": "\(error)"])
                }
                // The peer or the connection ended: so does the pump.
                pump.stop()
                readerEnded.fire()
            }
            if await pump.run() == .drained, !Task.isCancelled {
                // The server ended the session and everything was written: close, and give the peer the
                // rest of `closeGrace` to answer. The reader ends with its answer, or the outbox's close
                // handler closes the connection; either way the reader is cancelled below.
                try? await outbound.close(.normalClosure, reason: nil)
                await readerEnded.wait()
            }
            group.cancelAll()
        }
        // Whatever the connection did not take never reached the client.
        outbox.abandon()
        await server.webSocketClosed(connection)
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
    private let end = Mutex<(outcome: End?, waiter: CheckedContinuation<End, Never>?)>((nil, nil))

    init(channel: any Channel, outbox: EngineIOWebSocketOutbox) {
        self.channel = channel
        self.outbox = outbox
    }

    /// Pumps until the outbox is closed and drained (`drained`), a write fails (`failed`) or the calling
    /// task is cancelled (`cancelled`; what is queued then is the caller's to abandon).
    func run() async -> End {
        channel.eventLoop.execute { self.pump() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<End, Never>) in
                let done = end.withLock { end -> End? in
                    if end.outcome == nil { end.waiter = continuation }
                    return end.outcome
                }
                if let done { continuation.resume(returning: done) }
            }
        } onCancel: {
            finish(.cancelled)
        }
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

    /// Ends `run` (with `cancelled`) from outside: the reader saw the connection end.
    func stop() {
        finish(.cancelled)
    }

    private func finish(_ outcome: End) {
        let waiter = end.withLock { end -> CheckedContinuation<End, Never>? in
            guard end.outcome == nil else { return nil }
            end.outcome = outcome
            defer { end.waiter = nil }
            return end.waiter
        }
        waiter?.resume(returning: outcome)
    }
}

/// Fires once; `wait` returns at once after that. For a task that waits on an event-loop callback or
/// another task, whichever comes first.
final class OneShotSignal: Sendable {
    private let state = Mutex<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func fire() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.fired else { return [] }
            state.fired = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let fired = state.withLock { state -> Bool in
                if !state.fired { state.waiters.append(continuation) }
                return state.fired
            }
            if fired { continuation.resume() }
        }
    }
}
