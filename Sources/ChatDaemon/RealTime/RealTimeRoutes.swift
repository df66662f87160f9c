import ChatCore
import Hummingbird
// URI; HummingbirdCore comes with Hummingbird.
import HummingbirdCore
import NIOCore
import SocketIO

/// Engine.IO long-polling at `/socket.io/` on chatd's router, so the router's CORS (configured origins),
/// security headers and metrics apply. WebSocket requests never get here unless refused an upgrade
/// (see `RealTimeWebSocket`); they are answered with the reference server's errors.
struct RealTimeRoutes {
    static let path = "/socket.io"

    let hub: RealTimeHub

    func register(on router: Router<ChatRequestContext>) {
        router.get(RouterPath(Self.path)) { request, context in
            await get(request, address: hub.trustedProxies.clientAddress(
                peer: context.clientAddress, forwardedFor: request.headers[AuthRoutes.forwardedFor]))
        }
        router.post(RouterPath(Self.path)) { request, _ in await post(request) }
        // Other methods: a handshake is refused as the reference server refuses it.
        router.put(RouterPath(Self.path)) { request, _ in Self.otherMethod(request) }
        router.delete(RouterPath(Self.path)) { request, _ in Self.otherMethod(request) }
        router.patch(RouterPath(Self.path)) { request, _ in Self.otherMethod(request) }
    }

    func get(_ request: Request, address: String? = nil) async -> Response {
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
        do throws(EngineIORequestError) { return Self.text(try await server.poll(sid: sid)) } catch {
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
