import ChatCore
import Hummingbird
// URI; HummingbirdCore comes with Hummingbird.
import HummingbirdCore
import NIOCore
import SocketIO
import Synchronization

/// Engine.IO long-polling at `/socket.io/` on chatd's router, so the router's CORS (configured origins),
/// security headers and metrics apply. WebSocket requests never get here unless refused an upgrade
/// (see `RealTimeWebSocket`); they are answered with the reference server's errors.
struct RealTimeRoutes {
    static let path = "/socket.io"

    let hub: RealTimeHub

    func register(on router: Router<ChatRequestContext>) {
        router.get(RouterPath(Self.path)) { request, context in
            await get(request, connection: context.channel, address: hub.trustedProxies.limitAddress(
                peer: context.clientAddress, forwardedFor: request.headers[AuthRoutes.forwardedFor]))
        }
        router.post(RouterPath(Self.path)) { request, _ in await post(request) }
        // Other methods: a handshake is refused as the reference server refuses it.
        router.put(RouterPath(Self.path)) { request, _ in Self.otherMethod(request) }
        router.delete(RouterPath(Self.path)) { request, _ in Self.otherMethod(request) }
        router.patch(RouterPath(Self.path)) { request, _ in Self.otherMethod(request) }
    }

    func get(_ request: Request, connection: (any Channel)? = nil, address: String? = nil) async -> Response {
        let server = hub.server
        let target: EngineIORequestTarget
        do throws(EngineIORequestError) { target = try EngineIORequestTarget(query: Self.query(request.uri)) } catch {
            return Self.refusal(error)
        }
        guard let sid = target.sid else {
            if hub.isDraining { return Self.draining() }
            // A handshake asking for WebSocket without upgrading, as the reference server answers it.
            guard target.transport == .polling else { return Self.refusal(.badRequest) }
            do throws(EngineIORequestError) {
                return Self.text(try await server.openPollingSession(headers: Self.handshakeHeaders(request.headers),
                                                                     address: address))
            } catch {
                return Self.refusal(error)
            }
        }
        guard target.transport == .polling else {
            let known = await server.sessionState(sid: sid) != nil
            return Self.refusal(known ? .badRequest : .unknownSessionID)
        }
        let watch = connection.map { channel in
            { @Sendable (closed: @escaping @Sendable () -> Void) in ConnectionCloseWatch.shared.watch(channel, closed) }
        }
        do throws(EngineIORequestError) { return Self.text(try await server.poll(sid: sid, onConnectionClose: watch)) } catch {
            return Self.refusal(error)
        }
    }

    func post(_ request: Request) async -> Response {
        let server = hub.server
        let target: EngineIORequestTarget
        do throws(EngineIORequestError) { target = try EngineIORequestTarget(query: Self.query(request.uri)) } catch {
            return Self.refusal(error)
        }
        guard let sid = target.sid else { return Self.refusal(.badHandshakeMethod) }
        guard target.transport == .polling else { return Self.refusal(.badRequest) }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: hub.configuration.engine.maxPayload)
        } catch {
            // Over maxHttpBufferSize: the reference server closes the session.
            await server.close(sid: sid)
            return Self.refusal(.payloadTooLarge)
        }
        do throws(EngineIORequestError) {
            try await server.post(sid: sid, body: String(buffer: body))
            return Self.text("ok")
        } catch {
            return Self.refusal(error)
        }
    }

    static func otherMethod(_ request: Request) -> Response {
        let hasSid = Self.query(request.uri)["sid"] != nil
        return Self.refusal(hasSid ? .badRequest : .badHandshakeMethod)
    }

    // MARK: Helpers

    static func query(_ uri: URI) -> [String: String] {
        var query: [String: String] = [:]
        for (key, value) in uri.queryParameters where query[String(key)] == nil {
            query[String(key)] = String(value)
        }
        return query
    }

    /// The headers the authenticator may use at CONNECT; only those are kept with the session.
    static func handshakeHeaders(_ fields: HTTPFields) -> [String: String] {
        guard let authorization = fields[.authorization] else { return [:] }
        return ["authorization": authorization]
    }

    /// Engine.IO answers polling in plain text, as socket.io does.
    static func text(_ body: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=UTF-8"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func refusal(_ error: EngineIORequestError) -> Response {
        json(error.body, status: HTTPResponse.Status(code: error.httpStatus))
    }

    /// While draining, new sessions are sent elsewhere; clients retry with backoff.
    static func draining() -> Response {
        var response = json(#"{"code":4,"message":"Server is shutting down"}"#, status: .serviceUnavailable)
        response.headers[.retryAfter] = "1"
        return response
    }

    static func json(_ body: String, status: HTTPResponse.Status) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// Tells a held long-poll when its connection closes. The server allows half-closure, so a client's FIN
/// only closes the input (`ChannelEvent.inputClosed`); a reset closes the channel. Either counts. One
/// watch per connection, however many GETs it carries (a keep-alive connection carries one after
/// another): each GET replaces the action, so nothing piles up on a long-lived connection.
final class ConnectionCloseWatch: Sendable {
    static let shared = ConnectionCloseWatch()

    private let actions = Mutex<[ObjectIdentifier: @Sendable () -> Void]>([:])

    func watch(_ channel: any Channel, _ action: @escaping @Sendable () -> Void) {
        let key = ObjectIdentifier(channel)
        let isNew = actions.withLock { actions in
            defer { actions[key] = action }
            return actions[key] == nil
        }
        guard isNew else { return }
        channel.pipeline.addHandler(InputClosedHandler { [self] in fire(key, forget: false) }, position: .first)
            .whenFailure { [self] _ in fire(key, forget: true) }
        channel.closeFuture.whenComplete { [self] _ in fire(key, forget: true) }
    }

    private func fire(_ key: ObjectIdentifier, forget: Bool) {
        let action = actions.withLock { actions in
            forget ? actions.removeValue(forKey: key) : actions[key]
        }
        action?()
    }
}

/// Reports the peer's FIN (the input side closing) and passes every event on.
final class InputClosedHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny
    private let inputClosed: @Sendable () -> Void

    init(_ inputClosed: @escaping @Sendable () -> Void) {
        self.inputClosed = inputClosed
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { inputClosed() }
        context.fireUserInboundEventTriggered(event)
    }
}
