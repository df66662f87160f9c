/// Every way a Chat3 request can fail, and — in one place — the status and body Chat3 answers with.
enum SimError: Error, Equatable {
    struct Detail: Equatable {
        var field: String
        var message: String
        var value: SimJSON
    }

    case missingAPIKey
    case invalidAPIKey
    case inactiveAPIKey
    case tenantNotFound(String)
    case permissionRequired(String)
    /// A URL parameter failed its format validator.
    case invalidParameter(field: String, received: String, example: String)
    /// Joi body or query validation.
    case validation([Detail])
    case badRequest(String)
    case forbidden(String)
    case notFound(String)
    case conflict(String)
    case noTopic
    case internalError(String)
    /// Express's default handler for an unmatched route: an HTML page, not JSON.
    case routeNotFound(method: String, path: String)
    /// Express's `express.json()` rejecting a malformed body: HTML as well.
    case malformedJSON

    var status: Int {
        switch self {
        case .missingAPIKey, .invalidAPIKey, .inactiveAPIKey: 401
        case .tenantNotFound, .notFound, .noTopic, .routeNotFound: 404
        case .permissionRequired, .forbidden: 403
        case .invalidParameter, .validation, .badRequest, .malformedJSON: 400
        case .conflict: 409
        case .internalError: 500
        }
    }

    var response: SimResponse {
        switch self {
        case .routeNotFound(let method, let path):
            return .html(status: 404, pre: "Cannot \(method) \(Self.escapeHTML(path))")
        case .malformedJSON:
            return .html(status: 400, pre: "SyntaxError: Unexpected token in JSON")
        default:
            return .json(status: status, body)
        }
    }

    var body: SimJSON {
        switch self {
        case .missingAPIKey:
            Self.envelope("Unauthorized", "API key is required. Please provide it in the X-API-Key header.")
        case .invalidAPIKey: Self.envelope("Unauthorized", "Invalid API key")
        case .inactiveAPIKey: Self.envelope("Unauthorized", "API key is expired or inactive")
        case .tenantNotFound(let id): Self.envelope("Not Found", "Tenant '\(id)' not found")
        case .permissionRequired(let permission):
            Self.envelope("Forbidden", "Permission '\(permission)' is required")
        case .invalidParameter(let field, let received, let example):
            .obj([
                "error": "Bad Request", "message": .string("Invalid \(field) format"),
                "field": .string(field), "received": .string(received), "example": .string(example),
            ])
        case .validation(let details):
            .obj([
                "error": "Bad Request", "message": "Validation error",
                "details": .array(details.map {
                    .obj(["field": .string($0.field), "message": .string($0.message), "value": $0.value])
                }),
            ])
        case .badRequest(let message): Self.envelope("Bad Request", message)
        case .forbidden(let message): Self.envelope("Forbidden", message)
        case .notFound(let message): Self.envelope("Not Found", message)
        case .conflict(let message): Self.envelope("Conflict", message)
        case .noTopic: Self.envelope("ERROR_NO_TOPIC", "Topic not found")
        case .internalError(let message): Self.envelope("Internal Server Error", message)
        case .routeNotFound, .malformedJSON: .null
        }
    }

    static func envelope(_ error: String, _ message: String) -> SimJSON {
        .obj(["error": .string(error), "message": .string(message)])
    }

    static func escapeHTML(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}

extension SimJSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int) { self = .int(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
}
