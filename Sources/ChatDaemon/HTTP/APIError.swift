import Chat3Client
import ChatApp
import ChatCore
import ChatStore
import Foundation
import Hummingbird
import NIOCore

/// Every failure an API route can answer with. `status` and `code` are the one table that maps
/// errors to the wire; routes never build error responses by hand.
public enum APIError: Error, Equatable, Sendable {
    case badRequest(String)
    case invalidJSON
    case unauthorized
    case forbidden(String)
    case notFound(String)
    /// A known path asked with a method it does not serve; `allow` lists those it does.
    case methodNotAllowed(allow: [String])
    case conflict(String)
    case payloadTooLarge
    case rateLimited(retryAfterSeconds: Int, message: String)
    case invalidCode(String)
    case tooManyAttempts
    case smsUnavailable
    case chat3Unavailable
    case storeUnavailable
    case internalError
    /// A connection refused by `server.max_connections` or `server.max_connections_per_address`.
    case tooManyConnections
    /// No complete request head within `server.request_head_timeout`.
    case requestTimeout
    /// The HTTP decoder could not parse the request (an unknown method, bad syntax).
    case malformedRequest
    /// The request head is over the 16 KiB limit.
    case headersTooLarge

    public var status: HTTPResponse.Status {
        switch self {
        case .badRequest, .invalidJSON, .invalidCode: .badRequest
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .conflict: .conflict
        case .payloadTooLarge: .contentTooLarge
        case .rateLimited, .tooManyAttempts: .tooManyRequests
        case .smsUnavailable, .chat3Unavailable, .storeUnavailable: .serviceUnavailable
        case .internalError: .internalServerError
        case .tooManyConnections: .serviceUnavailable
        case .requestTimeout: .requestTimeout
        case .malformedRequest: .badRequest
        case .headersTooLarge: .requestHeaderFieldsTooLarge
        }
    }

    public var code: String {
        switch self {
        case .badRequest: "bad_request"
        case .invalidJSON: "invalid_json"
        case .unauthorized: "unauthorized"
        case .forbidden: "forbidden"
        case .notFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .conflict: "conflict"
        case .payloadTooLarge: "payload_too_large"
        case .rateLimited: "rate_limited"
        case .invalidCode: "invalid_code"
        case .tooManyAttempts: "too_many_attempts"
        case .smsUnavailable: "sms_unavailable"
        case .chat3Unavailable: "chat3_unavailable"
        case .storeUnavailable: "store_unavailable"
        case .internalError: "internal_error"
        case .tooManyConnections: "too_many_connections"
        case .requestTimeout: "request_timeout"
        case .malformedRequest: "malformed_request"
        case .headersTooLarge: "headers_too_large"
        }
    }

    public var message: String {
        switch self {
        case .badRequest(let text), .forbidden(let text), .notFound(let text), .conflict(let text), .invalidCode(let text):
            text
        case .methodNotAllowed(let allow): "Method not allowed; use " + allow.joined(separator: ", ")
        case .invalidJSON: "Malformed JSON body"
        case .unauthorized: "Authentication required"
        case .payloadTooLarge: "Request body too large"
        case .rateLimited(_, let text): text
        case .tooManyAttempts: "Too many attempts; request a new code"
        case .smsUnavailable: "Could not send the code; try again later"
        case .chat3Unavailable: "Chat service unavailable"
        case .storeUnavailable: "User store unavailable"
        case .internalError: "Internal server error"
        case .tooManyConnections: "Too many connections; retry later"
        case .requestTimeout: "No complete request in time"
        case .malformedRequest: "Malformed or unsupported HTTP request"
        case .headersTooLarge: "Request headers too large"
        }
    }

    /// Lower layers' errors as API errors. Unknown errors become 500 without detail.
    public init(_ error: any Error) {
        switch error {
        case let error as APIError: self = error
        case let error as ValidationError: self = .badRequest(error.message)
        case let error as Chat3Error: self = APIError(chat3: error)
        case let refusal as ConversationRefusal:
            switch refusal {
            case .dialogNotFound: self = .notFound("Dialog not found")
            case .messageNotFound: self = .notFound("Message not found")
            case .creatorOnly(.deleteDialog): self = .forbidden("Only the dialog's creator can delete it")
            case .creatorOnly(.removeOtherMember): self = .forbidden("Only the dialog's creator can remove other members")
            }
        case let error as StoreError:
            switch error {
            case .conflict: self = .conflict(error.message)
            case .notFound: self = .notFound("User not found")
            case .unavailable, .invalid, .missing, .notWritable: self = .storeUnavailable
            }
        case let error as HTTPError:
            switch error.status {
            case .notFound: self = .notFound("Route not found")
            case .contentTooLarge: self = .payloadTooLarge
            case .unauthorized: self = .unauthorized
            case .badRequest: self = .badRequest("Bad request")
            case .methodNotAllowed: self = .notFound("Route not found")
            default: self = .internalError
            }
        case is NIOTooManyBytesError: self = .payloadTooLarge
        case is DecodingError: self = .invalidJSON
        default: self = .internalError
        }
    }

    /// The envelope's JSON text, for answers written below the router (`ConnectionGuardHandler`).
    public var bodyText: String {
        let body: JSONValue = ["success": false, "error": .string(message), "code": .string(code)]
        return body.serialized()
    }

    /// The reference's envelope: `{"success": false, "error": "...", "code": "..."}`.
    public func response() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        if case .rateLimited(let seconds, _) = self { headers[.retryAfter] = String(seconds) }
        if case .methodNotAllowed(let allow) = self { headers[.allow] = allow.joined(separator: ", ") }
        let body: JSONValue = ["success": false, "error": .string(message), "code": .string(code)]
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body.serialized())))
    }
}

/// Turns anything a route throws into the JSON error envelope, and logs server-side failures.
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// For answering a known path's other methods with 405 (see `KnownRoutes`).
    let known: KnownRoutes

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = known.methodNotAllowed(error, request) ?? APIError(error)
            if apiError == .internalError || apiError == .storeUnavailable {
                context.logger.error("request failed", metadata: ["http.path": "\(request.uri.path)", "error": "\(error)"])
            }
            return apiError.response()
        }
    }
}
