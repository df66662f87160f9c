import Logging
import NIOCore
import NIOWebSocket
import SocketIO
import Synchronization

/// One Engine.IO WebSocket, driven from its channel's event loop: the WebSocket protocol (ping, close
/// handshake, errors) here, messages to the server through a `WebSocketInbox`, the server's frames out
/// through `WebSocketFramePump`. An idle socket has no task: a task runs only while messages wait for
/// the server, and ends when they are handled, so what its stack grew to (a CONNECT's authentication
/// and subscription wait) is freed rather than kept for the connection's life.
///
/// Sits behind NIO's frame codec and `NIOWebSocketFrameAggregator` (fragments joined, messages bounded
/// in size).
final class EngineIOWebSocketHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// How long a WebSocket whose session ended may take to write its last frames and answer the close.
    static let closeGrace: TimeAmount = .seconds(5)

    private let target: RealTimeChannel.UpgradeTarget
    private let hub: RealTimeHub
    private var inbox: WebSocketInbox?
    private var pump: WebSocketFramePump?
    private var closeSent = false
    private var counted = false

    init(target: RealTimeChannel.UpgradeTarget, hub: RealTimeHub) {
        self.target = target
        self.hub = hub
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        let limit = hub.configuration.engine.maxBufferedBytes
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
            // still unwritten then are reported so and their updates stay in RabbitMQ.
            channel.eventLoop.scheduleTask(in: Self.closeGrace) { channel.close(promise: nil) }
        })
        let inbox = WebSocketInbox(target: target, hub: hub, outbox: outbox, channel: channel)
        self.inbox = inbox
        let pump = WebSocketFramePump(channel: channel, outbox: outbox)
        self.pump = pump
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        pump.start { end in handler.value.pumpEnded(end, context: loopContext.value) }
        inbox.attach()
        guard channel.isActive else {
            // Closed while the upgrade was being answered: no `channelInactive` will come.
            pump.stop()
            inbox.end()
            return
        }
        hub.webSockets.opened()
        counted = true
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted {
            counted = false
            hub.webSockets.closed()
        }
        pump?.stop()
        // Whatever the connection did not take never reached the client; the server hears of the
        // close after the messages before it.
        inbox?.end()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Hummingbird's server allows half-closed connections; a WebSocket peer that ends its side
        // (with or without a close frame) is gone, so is the connection.
        if case ChannelEvent.inputClosed = event { return context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text where !closeSent:
            var bytes = frame.unmaskedData
            inbox?.receive(.text(bytes.readString(length: bytes.readableBytes) ?? ""))
        case .binary where !closeSent:
            inbox?.receive(.binary(Array(frame.unmaskedData.readableBytesView)))
        case .text, .binary:
            break  // after our close frame, only the peer's close matters
        case .ping:
            guard frame.fin, frame.length < 126 else { return fail(context: context, code: .protocolError) }
            guard !closeSent else { return }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)),
                                  promise: nil)
        case .pong:
            break  // Engine.IO has its own heartbeat; WebSocket pings are never sent
        case .connectionClose:
            // The answer to our close completes the handshake and the server closes TCP; a peer that
            // closes first gets its code back, then the close.
            guard !closeSent else { return context.close(promise: nil) }
            sendClose(context: context, Self.closePayload(echoing: frame.unmaskedData, allocator: context.channel.allocator),
                      thenClose: true)
        default:
            fail(context: context, code: .protocolError)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Oversized or malformed messages (the aggregator's errors; the codec's own are answered by
        // NIO's protocol error handler before they get here): close with the reason, then the connection.
        let code: WebSocketErrorCode = if error is NIOWebSocketFrameAggregator.Error { .messageTooLarge } else { .protocolError }
        hub.logger.debug("websocket error", metadata: ["error": "\(error)"])
        fail(context: context, code: code)
    }

    /// Reads only while the inbox has room: a peer that sends faster than the server handles its
    /// messages waits in the kernel's buffers, not in ours.
    func read(context: ChannelHandlerContext) {
        guard let inbox else { return context.read() }
        let channel = context.channel
        if inbox.holdRead(resume: { channel.read() }) { return }
        context.read()
    }

    private func pumpEnded(_ end: WebSocketFramePump.End, context: ChannelHandlerContext) {
        switch end {
        case .drained:
            // The server ended the session and everything was written: close, and give the peer the
            // rest of `closeGrace` to answer (the outbox's close handler closes the connection then).
            guard !closeSent else { return }
            sendClose(context: context, Self.closePayload(.normalClosure, allocator: context.channel.allocator), thenClose: false)
        case .failed:
            context.close(promise: nil)
        case .cancelled:
            break
        }
    }

    /// Sends a close frame with `code` (unless one went already), then closes the connection.
    private func fail(context: ChannelHandlerContext, code: WebSocketErrorCode) {
        guard !closeSent else { return context.close(promise: nil) }
        sendClose(context: context, Self.closePayload(code, allocator: context.channel.allocator), thenClose: true)
    }

    /// Our close frame, once. With `thenClose` the connection goes once it is written; without, on the
    /// peer's answer or the close grace (or at once if the write failed).
    private func sendClose(context: ChannelHandlerContext, _ payload: ByteBuffer, thenClose: Bool) {
        closeSent = true
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)))
            .assumeIsolated().whenComplete { result in
                if thenClose || (try? result.get()) == nil { context.close(promise: nil) }
            }
    }

    static func closePayload(_ code: WebSocketErrorCode, allocator: ByteBufferAllocator) -> ByteBuffer {
        var payload = allocator.buffer(capacity: 2)
        payload.write(webSocketErrorCode: code)
        return payload
    }

    /// The peer's close code when it sent a valid one (RFC 6455 §5.5.1: an endpoint echoes it), else 1000.
    static func closePayload(echoing peer: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var peer = peer
        guard let code = peer.readInteger(as: UInt16.self),
              (1000...1003).contains(code) || (1007...1011).contains(code) || (3000...4999).contains(code)
        else { return closePayload(.normalClosure, allocator: allocator) }
        var payload = allocator.buffer(capacity: 2)
        payload.writeInteger(code)
        return payload
    }
}

/// A WebSocket's messages on their way to the server, in order: the event loop queues them, one task at
/// a time hands them to the server and ends when none is left. The first job is attaching the socket to
/// its session, the last telling the server it closed. Bounded: past `holdAfter` messages or bytes the
/// handler stops reading until the task has caught up.
final class WebSocketInbox: Sendable {
    enum Message: Sendable {
        case text(String)
        case binary([UInt8])

        var byteCount: Int {
            switch self {
            case .text(let text): text.utf8.count
            case .binary(let data): data.count
            }
        }
    }

    private enum Job: Sendable {
        case attach
        case message(Message)
        case closed
    }

    private struct State {
        /// Oldest first from `head`; emptied (storage freed) whenever the task catches up.
        var jobs: [Job] = []
        var head = 0
        var bytes = 0
        var running = false
        var connection: EngineIOWebSocketConnection?
        /// Set when a read was held back; called once the jobs are below the mark again.
        var resume: (@Sendable () -> Void)?
    }

    /// Messages or bytes waiting past which reading stops.
    static let holdAfterMessages = 64
    static let holdAfterBytes = 1 << 20

    private let target: RealTimeChannel.UpgradeTarget
    private let hub: RealTimeHub
    private let outbox: EngineIOWebSocketOutbox
    private let channel: any Channel
    private let state = Mutex(State())

    init(target: RealTimeChannel.UpgradeTarget, hub: RealTimeHub, outbox: EngineIOWebSocketOutbox, channel: any Channel) {
        self.target = target
        self.hub = hub
        self.outbox = outbox
        self.channel = channel
    }

    func attach() { enqueue(.attach, bytes: 0) }

    func receive(_ message: Message) { enqueue(.message(message), bytes: message.byteCount) }

    /// The connection closed: after the messages before it, the socket's unwritten frames are reported
    /// so and the server told.
    func end() { enqueue(.closed, bytes: 0) }

    /// True (and `resume` kept for later) when reading should wait for the task to catch up.
    func holdRead(resume: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { state in
            guard state.jobs.count - state.head >= Self.holdAfterMessages || state.bytes >= Self.holdAfterBytes else { return false }
            state.resume = resume
            return true
        }
    }

    private func enqueue(_ job: Job, bytes: Int) {
        let start = state.withLock { state -> Bool in
            state.jobs.append(job)
            state.bytes += bytes
            guard !state.running else { return false }
            state.running = true
            return true
        }
        if start { Task { await self.run() } }
    }

    /// Takes the next job, or marks the task ended when none is left.
    private func next() -> (Job, EngineIOWebSocketConnection?, (@Sendable () -> Void)?)? {
        state.withLock { state in
            guard state.head < state.jobs.count else {
                state.jobs = []
                state.head = 0
                state.running = false
                return nil
            }
            let job = state.jobs[state.head]
            state.head += 1
            if case .message(let message) = job { state.bytes -= message.byteCount }
            var resume: (@Sendable () -> Void)?
            if state.resume != nil, state.jobs.count - state.head < Self.holdAfterMessages / 2, state.bytes < Self.holdAfterBytes / 2 {
                resume = state.resume
                state.resume = nil
            }
            return (job, state.connection, resume)
        }
    }

    private func run() async {
        let server = hub.server
        while let (job, connection, resume) = next() {
            resume?()
            switch job {
            case .attach:
                do {
                    let attached = try await server.attachWebSocket(sid: target.sid, headers: target.headers,
                                                                    writer: outbox, address: target.address)
                    state.withLock { $0.connection = attached }
                } catch {
                    hub.logger.debug("websocket refused", metadata: ["error": "\(error)"])
                    channel.close(promise: nil)
                }
            case .message(let message):
                guard let connection else { continue }
                switch message {
                case .text(let text): await server.receive(text, on: connection)
                case .binary(let bytes): await server.receive(binary: bytes, on: connection)
                }
            case .closed:
                outbox.abandon()
                if let connection { await server.webSocketClosed(connection) }
            }
        }
    }
}

/// The WebSockets open now, so a graceful shutdown can wait for their close handshakes (their frames'
/// receipts ack updates) before HTTP and AMQP stop: no connection task stands for them in Hummingbird.
public final class OpenWebSockets: Sendable {
    private let state = Mutex<(count: Int, waiters: [CheckedContinuation<Void, Never>])>((0, []))

    public var count: Int { state.withLock { $0.count } }

    func opened() { state.withLock { $0.count += 1 } }

    func closed() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.count -= 1
            guard state.count == 0 else { return [] }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once none is open (at once if none is).
    func allClosed() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let none = state.withLock { state -> Bool in
                if state.count > 0 { state.waiters.append(continuation) }
                return state.count == 0
            }
            if none { continuation.resume() }
        }
    }
}

