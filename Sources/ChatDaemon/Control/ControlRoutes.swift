import ChatControl
import ChatCore
import Foundation
import Hummingbird
import Logging

/// The one place control failures become HTTP statuses and wire codes (the client maps them back).
enum ControlErrorMapping {
    static func response(for failure: ControlFailure) -> Response {
        let (status, body): (HTTPResponse.Status, ControlErrorBody) = switch failure {
        case .forbidden(let group):
            (.forbidden, ControlErrorBody(error: "permission denied: not root, chatd's user, or a member of '\(group)'",
                                          code: .forbidden, operatorGroup: group))
        case .originRefused:
            (.forbidden, ControlErrorBody(error: "requests with an Origin or Referer header are refused", code: .originRefused))
        case .badRequest(let message): (.badRequest, ControlErrorBody(error: message, code: .badRequest))
        case .notFound(let message): (.notFound, ControlErrorBody(error: message, code: .notFound))
        case .invalidConfig(let message): (.unprocessableContent, ControlErrorBody(error: message, code: .invalidConfig))
        case .internalError(let message): (.internalServerError, ControlErrorBody(error: message, code: .internalError))
        }
        return ControlResponse.json(body, status: status)
    }

    /// Anything a handler or the router threw.
    static func failure(for error: any Error) -> ControlFailure {
        switch error {
        case let failure as ControlFailure: failure
        case let error as HTTPError where error.status == .notFound: .notFound("no such endpoint")
        case let error as HTTPError where error.status == .methodNotAllowed: .notFound("no such endpoint")
        case let error as HTTPError where (400..<500).contains(error.status.code): .badRequest(error.body ?? "bad request")
        default: .internalError("\(error)")
        }
    }
}

enum ControlResponse {
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        let data = (try? ControlJSON.encoder().encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Runs before every handler: refuses browser-borne requests, reads the peer's credentials and
/// applies each endpoint's role (`ControlEndpoint.role`). Also turns every error into the wire's error body.
struct ControlGuardMiddleware: RouterMiddleware {
    let access: ControlAccess
    let logger: Logger

    func handle(_ request: Request, context: ControlRequestContext,
                next: (Request, ControlRequestContext) async throws -> Response) async throws -> Response {
        let method = request.method.rawValue
        let path = request.uri.path
        let peer = await context.peerCredentials()
        let response: Response
        do {
            try check(request, peer: peer)
            response = try await next(request, context)
        } catch {
            let failure = ControlErrorMapping.failure(for: error)
            if case .internalError(let why) = failure {
                logger.error("control request failed", metadata: ["request.path": "\(path)", "error": "\(why)"])
            }
            response = ControlErrorMapping.response(for: failure)
        }
        let metadata: Logger.Metadata = [
            "request.method": "\(method)", "request.path": "\(path)", "response.status": "\(response.status.code)",
            "peer.uid": "\(peer.map { String($0.uid) } ?? "-")", "peer.pid": "\(peer.map { String($0.pid) } ?? "-")",
        ]
        // Who changed what (kick, drain, reload, log level, shutdown) belongs in the log; reads stay at debug.
        if let endpoint = ControlEndpoint.matching(method: method, path: path), endpoint.role == .write {
            logger.info("control action", metadata: metadata.merging(["control.action": "\(endpoint)"]) { $1 })
        } else if response.status == .forbidden {
            logger.notice("control request refused", metadata: metadata)
        } else {
            logger.debug("control request", metadata: metadata)
        }
        return response
    }

    func check(_ request: Request, peer: PeerCredentials?) throws(ControlFailure) {
        // A browser page can reach a local socket through a proxy or a confused deputy; it always sends these.
        if request.headers[.origin] != nil || request.headers[.referer] != nil { throw .originRefused }
        guard let peer, let role = access.role(for: peer) else { throw .forbidden(operatorGroup: access.operatorGroup) }
        guard let endpoint = ControlEndpoint.matching(method: request.method.rawValue, path: request.uri.path) else {
            throw .notFound("no such endpoint: \(request.method.rawValue) \(request.uri.path)")
        }
        guard role >= endpoint.role else { throw .forbidden(operatorGroup: access.operatorGroup) }
    }
}

/// One route per `ControlEndpoint`; each handler only translates between the wire and `LiveDaemonControl`.
enum ControlRoutes {
    static func buildRouter(controller: LiveDaemonControl, access: ControlAccess, logger: Logger) -> Router<ControlRequestContext> {
        let router = Router(context: ControlRequestContext.self)
        router.add(middleware: ControlGuardMiddleware(access: access, logger: logger))
        for endpoint in ControlEndpoint.allCases {
            router.on(RouterPath(endpoint.path), method: HTTPRequest.Method(endpoint.method)!) { request, context in
                try await handle(endpoint, request: request, context: context, controller: controller)
            }
        }
        return router
    }

    static func handle(_ endpoint: ControlEndpoint, request: Request, context: ControlRequestContext,
                       controller: LiveDaemonControl) async throws -> Response {
        switch endpoint {
        case .status:
            return ControlResponse.json(await controller.status())
        case .connections:
            return ControlResponse.json(ConnectionList(connections: await controller.connections()))
        case .kick:
            let body = try await decode(KickRequest.self, request, context)
            guard let userId = UserID(rawValue: body.userId) else {
                throw ControlFailure.badRequest("userId must look like usr_xxxxxxxx")
            }
            return ControlResponse.json(KickResult(userId: userId.rawValue, sockets: await controller.kick(user: userId)))
        case .revoke:
            let body = try await decode(RevokeRequest.self, request, context)
            guard (1...128).contains(body.jti.utf8.count) else { throw ControlFailure.badRequest("jti must be 1 to 128 bytes") }
            return ControlResponse.json(RevokeResult(jti: body.jti, sockets: await controller.revoke(tokenID: body.jti)))
        case .drain:
            return ControlResponse.json(DrainResult(draining: true, closed: await controller.drain()))
        case .reload:
            return ControlResponse.json(try await controller.reload())
        case .logLevel:
            let body = try await decode(LogLevelRequest.self, request, context)
            let previous = await controller.setLogLevel(body.level)
            return ControlResponse.json(LogLevelResult(level: body.level, previous: previous))
        case .shutdown:
            await controller.shutdown()
            return ControlResponse.json(ShutdownResult(stopping: true))
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: ControlRequestContext) async throws -> T {
        var request = request
        let buffer = try await request.collectBody(upTo: context.maxUploadSize)
        do {
            return try ControlJSON.decoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            throw ControlFailure.badRequest("invalid \(T.self) body: \(Self.describe(error))")
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context): context.debugDescription
        case DecodingError.keyNotFound(let key, _): "missing \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "bad \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        default: "\(error)"
        }
    }
}
