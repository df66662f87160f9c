import ChatCore
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
// HTTPRequestPart/HTTPResponsePart, the parts Hummingbird's HTTP/1 pipeline carries.
import NIOHTTPTypes
import Synchronization

/// Every open HTTP connection: the global and per-address caps, and the list the shutdown deadline
/// closes. Hummingbird only learns about a connection once its first request head is parsed, so a
/// client that connects and sends nothing (or half a head) would otherwise hold a connection, and a
/// graceful shutdown, forever.
public final class ConnectionTracker: Sendable {
    public struct Limits: Sendable {
        public var maxConnections: Int
        public var maxConnectionsPerAddress: Int
        public var requestHeadTimeout: Duration

        public init(maxConnections: Int, maxConnectionsPerAddress: Int, requestHeadTimeout: Duration) {
            self.maxConnections = maxConnections
            self.maxConnectionsPerAddress = maxConnectionsPerAddress
            self.requestHeadTimeout = requestHeadTimeout
        }
    }

    enum Admission: Equatable {
        case admitted
        case refused(limit: String)
    }

    private struct Entry {
        let channel: any Channel
        /// The address counted against the per-address cap (nil for trusted proxies).
        let address: String?
    }

    private struct State {
        var open: [ObjectIdentifier: Entry] = [:]
        var perAddress: [String: Int] = [:]
    }

    let limits: Limits
    private let trustedProxies: TrustedProxies
    /// Called with the limit's name each time one refuses or closes a connection.
    let limitHit: @Sendable (String) -> Void
    private let state = Mutex(State())

    /// Names the address a per-address refusal was for.
    private let refusals: AddressRefusalLog?

    public init(limits: Limits, trustedProxies: TrustedProxies, refusals: AddressRefusalLog? = nil,
                limitHit: @escaping @Sendable (String) -> Void) {
        self.limits = limits
        self.trustedProxies = trustedProxies
        self.refusals = refusals
        self.limitHit = limitHit
    }

    func admit(_ channel: any Channel) -> Admission {
        let peer = channel.remoteAddress?.ipAddress
        // Behind a proxy every client shares the proxy's address; only the global cap applies there.
        // An IPv6 peer counts as its /64 (`TrustedProxies.limitKey`).
        let address = peer.flatMap { trustedProxies.trusts($0) ? nil : TrustedProxies.limitKey($0) }
        let admission = state.withLock { state -> Admission in
            if state.open.count >= limits.maxConnections { return .refused(limit: "connections") }
            if let address, state.perAddress[address, default: 0] >= limits.maxConnectionsPerAddress {
                return .refused(limit: "connections_per_address")
            }
            state.open[ObjectIdentifier(channel)] = Entry(channel: channel, address: address)
            if let address { state.perAddress[address, default: 0] += 1 }
            return .admitted
        }
        if admission == .refused(limit: "connections_per_address"), let address {
            refusals?.refused(limit: "connections_per_address", address: address, cap: limits.maxConnectionsPerAddress)
        }
        return admission
    }

    func release(_ channel: any Channel) {
        state.withLock { state in
            guard let entry = state.open.removeValue(forKey: ObjectIdentifier(channel)) else { return }
            if let address = entry.address {
                let remaining = state.perAddress[address, default: 1] - 1
                state.perAddress[address] = remaining > 0 ? remaining : nil
            }
        }
    }

    public var openCount: Int { state.withLock { $0.open.count } }

    /// Closes every connection still open (the shutdown deadline); returns how many there were.
    @discardableResult
    public func closeAll() -> Int {
        let channels = state.withLock { $0.open.values.map(\.channel) }
        for channel in channels { channel.close(mode: .all, promise: nil) }
        return channels.count
    }
}

/// The first handler of every HTTP connection (before the HTTP decoder, so it sees raw bytes): admits
/// the connection against the caps, gives its first request head `requestHeadTimeout` to arrive, and
/// closes a connection that has not completed a request head when the server quiesces. Later requests
/// on a keep-alive connection are bounded by Hummingbird's idle timeout.
final class ConnectionGuardHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let tracker: ConnectionTracker
    private var activated = false
    private var admitted = false
    private var headComplete = false
    /// Consecutive line ends seen (CR ignored): two end the head.
    private var lineEnds = 0
    private var headTimer: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    private var answered = false

    init(tracker: ConnectionTracker) {
        self.tracker = tracker
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { activate(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// The request could not be parsed (reported by `HTTPParseErrorHandler`, behind the decoder).
    func requestUnparseable(_ error: HTTPParserError) {
        guard let context else { return }
        let answer: APIError = error == .headerOverflow ? .headersTooLarge : .malformedRequest
        tracker.limitHit(answer == .headersTooLarge ? "request_head_size" : "malformed_request")
        refuse(context, answer)
    }

    func channelActive(context: ChannelHandlerContext) {
        activate(context)
        context.fireChannelActive()
    }

    private func activate(_ context: ChannelHandlerContext) {
        guard !activated else { return }
        activated = true
        switch tracker.admit(context.channel) {
        case .refused(let limit):
            tracker.limitHit(limit)
            refuse(context, .tooManyConnections)
        case .admitted:
            admitted = true
            let loop = context.eventLoop.assumeIsolatedUnsafeUnchecked()
            let timeout = tracker.limits.requestHeadTimeout
            headTimer = loop.scheduleTask(in: TimeAmount(timeout)) { [self] in
                guard !self.headComplete else { return }
                self.tracker.limitHit("request_head_timeout")
                self.refuse(context, .requestTimeout)
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !headComplete {
            let buffer = unwrapInboundIn(data)
            for byte in buffer.readableBytesView {
                if byte == UInt8(ascii: "\n") {
                    lineEnds += 1
                    if lineEnds == 2 {
                        headComplete = true
                        headTimer?.cancel()
                        headTimer = nil
                        break
                    }
                } else if byte != UInt8(ascii: "\r") {
                    lineEnds = 0
                }
            }
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        headTimer?.cancel()
        headTimer = nil
        if admitted {
            admitted = false
            tracker.release(context.channel)
        }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Shutting down: a connection without a complete request has nothing to finish.
        if event is ChannelShouldQuiesceEvent, !headComplete {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Answers in the REST error envelope, written straight to the socket, and closes.
    private func refuse(_ context: ChannelHandlerContext, _ error: APIError) {
        guard !answered else { return }
        answered = true
        headComplete = true
        headTimer?.cancel()
        headTimer = nil
        let body = error.bodyText
        var head = "HTTP/1.1 \(error.status.code) \(error.status.reasonPhrase)\r\n"
        head += "Content-Type: application/json; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\n"
        if error == .tooManyConnections { head += "Retry-After: 1\r\n" }
        head += "Connection: close\r\n\r\n"
        let buffer = context.channel.allocator.buffer(string: head + body)
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in context.close(promise: nil) }
    }
}

/// Behind the HTTP decoder: turns a parse error, which would otherwise leave the connection silent
/// (Hummingbird answers none), into 400 `malformed_request` (431 for an oversized head) and a close.
final class HTTPParseErrorHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Any

    private let connectionGuard: ConnectionGuardHandler

    init(connectionGuard: ConnectionGuardHandler) {
        self.connectionGuard = connectionGuard
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let parseError = error as? HTTPParserError {
            connectionGuard.requestUnparseable(parseError)
            return
        }
        context.fireErrorCaught(error)
    }
}

/// The time limits of the requests on one connection, in one handler between the HTTP codec and
/// Hummingbird's connection state handler: one hop per request part, and one clock read per request
/// (when its response ends, for the idle count; the body deadline reads none for a request that
/// arrives whole, as every GET does). A handler each, with four clock reads, was a measurable share of
/// a cheap request.
///
/// - **The body deadline.** Every request's body gets `bodyTimeout` from its head to its end.
///   Hummingbird's idle timeout is reset by every body part read, so a client trickling a byte now
///   and then would hold a connection (and the route waiting for the body) for ever. Past the
///   deadline: 408 `request_timeout`, then close (`request_body_timeout` in `chatd_limit_hits_total`).
/// - **Counting idle closes.** Hummingbird's idle timeout closes connections itself, without telling
///   anyone why. This handler sees the same request and response parts and the close that handler
///   sends: a close while no request is in progress and nothing has moved for the idle timeout is
///   that handler's (`idle_timeout`); a close right after a response (`Connection: close`) or on
///   shutdown is not.
final class RequestTimeouts: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let bodyTimeout: Duration?
    private let idleTimeout: Duration?
    private let limitHit: @Sendable (String) -> Void

    /// A request's head came and its end has not.
    private var awaitingEnd = false
    private var bodyTimer: Scheduled<Void>?
    private var responseStarted = false

    private var requestsInProgress = 0
    /// Something was read since `lastActivity` was taken: the idle clock restarted then, at the latest.
    private var readSinceActivity = false
    /// When the last response ended (or the connection started).
    private var lastActivity = NIODeadline.now()
    /// A connection is counted once, however many closes it gets.
    private var idleCounted = false

    init(bodyTimeout: Duration?, idleTimeout: Duration?, limitHit: @escaping @Sendable (String) -> Void) {
        self.bodyTimeout = bodyTimeout
        self.idleTimeout = idleTimeout
        self.limitHit = limitHit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            requestsInProgress += 1
            responseStarted = false
            bodyTimer?.cancel()
            bodyTimer = nil
            awaitingEnd = true
        case .body:
            break
        case .end:
            bodyTimer?.cancel()
            bodyTimer = nil
            awaitingEnd = false
        }
        readSinceActivity = true
        context.fireChannelRead(data)
    }

    /// The deadline starts only for a request still unfinished when a read burst ends: most requests
    /// come whole in one read. It counts from that burst, which is the head's (microseconds later).
    func channelReadComplete(context: ChannelHandlerContext) {
        if awaitingEnd, bodyTimer == nil, let bodyTimeout {
            let loop = context.eventLoop.assumeIsolatedUnsafeUnchecked()
            bodyTimer = loop.scheduleTask(in: TimeAmount(bodyTimeout)) { [self] in
                self.bodyTimer = nil
                self.expire(context)
            }
        }
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head: responseStarted = true
        case .body: break
        case .end:
            requestsInProgress -= 1
            if idleTimeout != nil {
                lastActivity = .now()
                readSinceActivity = false
            }
        }
        context.write(data, promise: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        // Hummingbird's timer fires once the idle time has passed since its own last activity, which
        // is within microseconds of the last response's end; the margin keeps that from being missed.
        // A read since then (the rest of a body the route did not wait for) restarted that timer.
        if mode == .all, let idleTimeout, !idleCounted, requestsInProgress <= 0, !readSinceActivity,
           NIODeadline.now() - lastActivity >= TimeAmount(idleTimeout * 0.95) {
            idleCounted = true
            limitHit("idle_timeout")
        }
        context.close(mode: mode, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        bodyTimer?.cancel()
        bodyTimer = nil
        awaitingEnd = false
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        bodyTimer?.cancel()
        bodyTimer = nil
        awaitingEnd = false
    }

    private func expire(_ context: ChannelHandlerContext) {
        limitHit("request_body_timeout")
        // A route that answered before reading its whole body has its answer on the way: just close.
        guard !responseStarted else {
            context.close(promise: nil)
            return
        }
        let error = APIError.requestTimeout
        var head = HTTPResponse(status: .requestTimeout)
        head.headerFields[.contentType] = "application/json; charset=utf-8"
        head.headerFields[.contentLength] = "\(error.bodyText.utf8.count)"
        head.headerFields[.connection] = "close"
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(string: error.bodyText))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}

/// A server child channel with `ConnectionGuardHandler` in front of another's pipeline.
struct GuardedChildChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value

    let inner: Inner
    let tracker: ConnectionTracker

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let tracker = tracker
        let connectionGuard = ConnectionGuardHandler(tracker: tracker)
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(connectionGuard, position: .first)
        }.flatMap {
            inner.setup(channel: channel, logger: logger)
        }.flatMapThrowing { value in
            // After the decoder Hummingbird just set up; handlers it adds later go behind this one.
            try channel.pipeline.syncOperations.addHandler(HTTPParseErrorHandler(connectionGuard: connectionGuard))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
