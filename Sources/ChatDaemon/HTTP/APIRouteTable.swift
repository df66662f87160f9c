import ChatCore
import Hummingbird
import NIOCore

/// One route of chatd's API: how it is registered and how the OpenAPI document describes it. Dialog and
/// message routes are registered from this table, and the document is built from it, so they cannot drift;
/// a test compares the document with the router's own route list.
struct APIRoute: Sendable {
    typealias Handler = @Sendable (Request, ChatRequestContext) async throws -> Response

    var method: HTTPRequest.Method
    /// Hummingbird syntax: `/api/dialogs/:dialogId`.
    var path: String
    var summary: String
    var tag: String
    var authenticated = true
    var query: [APIParameter] = []
    /// JSON Schema of the request body, if it takes one.
    var body: JSONValue?
    /// Whether the body may be left out altogether.
    var optionalBody = false
    var success: Int = 200
    /// JSON Schema of the success body, when the document says more than "an object".
    var response: JSONValue?
    /// The success body's media type; its schema is only given for JSON.
    var responseType = "application/json"
    var errors: [Int] = []
    /// Nil for routes registered by their own component (auth, health, metrics): listed for the document only.
    var handler: Handler?
}

/// A query parameter and the rule the route enforces on it.
struct APIParameter: Sendable {
    var name: String
    var schema: JSONValue

    /// `RouteInput.paging`'s rules.
    static let page = APIParameter(name: "page", schema: ["type": "integer", "minimum": 1, "maximum": 100_000])
    static let limit = APIParameter(name: "limit", schema: ["type": "integer", "minimum": 1, "maximum": 100])
}

enum ChatAPI {
    /// Every route chatd serves under `/api`, `/health`, `/ready` and `/metrics`.
    static func routes(_ services: DaemonServices) -> [APIRoute] {
        documentedElsewhere + [openAPIRoute] + DialogRoutes(services: services).routes + MessageRoutes(services: services).routes
            + UserRoutes(services: services).routes
    }

    /// Registers the table's routes that have handlers; authenticated ones behind `AuthMiddleware`.
    static func register(_ services: DaemonServices, on router: Router<ChatRequestContext>) {
        let table = routes(services)
        let document = ByteBuffer(string: OpenAPIDocument.build(table).serialized())
        let protected = router.group().add(middleware: AuthMiddleware(tokens: services.tokens))
        for route in table {
            let handler: APIRoute.Handler
            if route.path == openAPIRoute.path {
                handler = { _, _ in
                    Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                             body: .init(byteBuffer: document))
                }
            } else if let routeHandler = route.handler {
                handler = routeHandler
            } else {
                continue
            }
            if route.authenticated {
                protected.on(RouterPath(route.path), method: route.method, use: handler)
            } else {
                router.on(RouterPath(route.path), method: route.method, use: handler)
            }
        }
    }

    static let openAPIRoute = APIRoute(method: .get, path: "/api/openapi.json", summary: "This document (OpenAPI 3)",
                                       tag: "meta", authenticated: false, handler: nil)

    /// Routes other components register themselves; kept here so the document covers the whole API.
    static let documentedElsewhere: [APIRoute] = [
        APIRoute(method: .post, path: "/api/auth/request-code", summary: "Create the user if new and send a login code",
                 tag: "auth", authenticated: false,
                 body: Schema.object(["phone": Schema.phone,
                                      "name": Schema.nullable(Schema.text(length: 1...100, description: "Required for a new phone number"))],
                                     required: ["phone"]),
                 errors: [400, 429, 503]),
        APIRoute(method: .post, path: "/api/auth/verify-code", summary: "Check a login code and issue a JWT",
                 tag: "auth", authenticated: false,
                 body: Schema.object(["phone": Schema.phone, "code": ["type": "string", "pattern": "^[0-9]{1,12}$"]],
                                     required: ["phone", "code"]),
                 errors: [400, 429]),
        APIRoute(method: .get, path: "/api/auth/me", summary: "The current user", tag: "auth"),
        APIRoute(method: .post, path: "/api/auth/logout", summary: "Revoke this token", tag: "auth"),
        APIRoute(method: .get, path: "/health", summary: "Liveness", tag: "operations", authenticated: false),
        APIRoute(method: .get, path: "/ready", summary: "Readiness of the store, RabbitMQ and Chat3", tag: "operations",
                 authenticated: false, errors: [503]),
        APIRoute(method: .get, path: "/metrics", summary: "Prometheus metrics", tag: "operations", authenticated: false,
                 responseType: "text/plain"),
    ]
}

/// Small JSON Schema builders for the table.
enum Schema {
    static let string: JSONValue = ["type": "string"]
    static let integer: JSONValue = ["type": "integer"]
    static let boolean: JSONValue = ["type": "boolean"]
    static let dateTime: JSONValue = ["type": "string", "format": "date-time"]
    static let pagination = object(["page": integer, "limit": integer, "total": integer, "pages": integer],
                                   required: ["page", "limit", "total", "pages"])

    static func string(length: ClosedRange<Int>) -> JSONValue {
        ["type": "string", "minLength": .number(Double(length.lowerBound)), "maxLength": .number(Double(length.upperBound))]
    }

    /// What `Phone(normalizing:)` accepts: digits with spaces, dashes, dots and parentheses, an optional
    /// leading +, 11 to 15 digits, not starting with 0.
    static let phone: JSONValue = ["type": "string",
                                   "pattern": #"^\+?[ ().-]*[1-9]([ ().-]*[0-9]){10,14}[ ().-]*$"#]

    /// Free text as the routes check it: trimmed length within `length`, no control characters.
    static func text(length: ClosedRange<Int>, description: String? = nil) -> JSONValue {
        let plain = #"[^\x00-\x1f\x7f-\x9f]"#, solid = #"[^\s\x00-\x1f\x7f-\x9f]"#
        var schema: [String: JSONValue] = [
            "type": "string", "maxLength": .number(Double(length.upperBound)),
            "pattern": .string(length.lowerBound <= 1 ? "^\(plain)*\(solid)\(plain)*$"
                                                      : "^\(plain)*\(solid)\(plain)*\(solid)\(plain)*$"),
        ]
        if let description { schema["description"] = .string(description) }
        return .object(schema)
    }

    /// OpenAPI 3.1 (JSON Schema 2020-12): null is one more type.
    static func nullable(_ schema: JSONValue) -> JSONValue {
        guard case .object(var object) = schema, let type = object["type"]?.stringValue else { return schema }
        object["type"] = [.string(type), "null"]
        return .object(object)
    }

    /// Free text a search may also leave blank (nothing typed): blank, or at least two non-blank characters.
    static func search(maxLength: Int) -> JSONValue {
        let plain = #"[^\x00-\x1f\x7f-\x9f]"#, solid = #"[^\s\x00-\x1f\x7f-\x9f]"#
        return ["type": "string", "maxLength": .number(Double(maxLength)),
                "pattern": .string("^(\\s*|\(plain)*\(solid)\(plain)*\(solid)\(plain)*)$")]
    }

    static func object(_ properties: [String: JSONValue], required: [String] = []) -> JSONValue {
        var schema: [String: JSONValue] = ["type": "object", "properties": .object(properties)]
        if !required.isEmpty { schema["required"] = .array(required.map { .string($0) }) }
        return .object(schema)
    }

    static func array(_ items: JSONValue) -> JSONValue { ["type": "array", "items": items] }

    static func pattern(_ regex: String) -> JSONValue { ["type": "string", "pattern": .string(regex)] }

    static func enumeration(_ values: [String]) -> JSONValue {
        ["type": "string", "enum": .array(values.map { .string($0) })]
    }
}

/// The OpenAPI 3 document of chatd's API, built from the route table.
enum OpenAPIDocument {
    static let userIDPattern = "^usr_[a-z0-9]{8}$"
    /// Path parameters checked by more than a pattern.
    static let pathParameterSchemas: [String: JSONValue] = [
        "status": Schema.enumeration(["read", "delivered"]),
        "reaction": ["type": "string", "minLength": 1, "maxLength": 50, "pattern": #"^[^\x00-\x1f\x7f-\x9f]+$"#],
    ]
    static let parameterPatterns: [String: String] = [
        "dialogId": "^dlg_[a-z0-9]{20}$", "messageId": "^msg_[a-z0-9]{20}$", "userId": userIDPattern,
    ]

    static func build(_ routes: [APIRoute]) -> JSONValue {
        var paths: [String: [String: JSONValue]] = [:]
        for route in routes {
            paths[openAPIPath(route.path), default: [:]][route.method.rawValue.lowercased()] = operation(route)
        }
        let errorSchema = Schema.object(["success": ["type": "boolean", "enum": [false]], "error": Schema.string,
                                         "code": Schema.string], required: ["success", "error", "code"])
        return [
            "openapi": "3.1.0",
            "info": ["title": "chatd API", "version": "1.0.0",
                     "description": "Chat backend in front of Chat3. Errors use {success:false, error, code}."],
            "paths": .object(paths.mapValues { .object($0) }),
            "components": [
                "securitySchemes": ["bearerAuth": ["type": "http", "scheme": "bearer", "bearerFormat": "JWT"]],
                "schemas": ["Error": errorSchema],
            ],
        ]
    }

    /// `/api/dialogs/:dialogId` → `/api/dialogs/{dialogId}`.
    static func openAPIPath(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix(":") ? "{\(segment.dropFirst())}" : String(segment)
        }.joined(separator: "/")
    }

    static func operation(_ route: APIRoute) -> JSONValue {
        var parameters: [JSONValue] = []
        for segment in route.path.split(separator: "/") where segment.hasPrefix(":") {
            let name = String(segment.dropFirst())
            let schema = pathParameterSchemas[name] ?? parameterPatterns[name].map(Schema.pattern) ?? Schema.string
            parameters.append(["name": .string(name), "in": "path", "required": true, "schema": schema])
        }
        for parameter in route.query {
            parameters.append(["name": .string(parameter.name), "in": "query", "required": false, "schema": parameter.schema])
        }
        let errorResponse: JSONValue = ["description": "Error",
                                        "content": ["application/json": ["schema": ["$ref": "#/components/schemas/Error"]]]]
        var responses: [String: JSONValue] = [
            String(route.success): ["description": "Success",
                                    "content": route.responseType == "application/json"
                                        ? ["application/json": ["schema": route.response ?? ["type": "object"]]]
                                        : [route.responseType: ["schema": Schema.string]]],
        ]
        var errors = Set(route.errors)
        if route.authenticated { errors.insert(401) }
        if route.body != nil { errors.formUnion([400, 413]) }
        for status in errors { responses[String(status)] = errorResponse }
        var operation: [String: JSONValue] = [
            "summary": .string(route.summary), "tags": [.string(route.tag)],
            "operationId": .string(operationId(route)), "responses": .object(responses),
        ]
        if !parameters.isEmpty { operation["parameters"] = .array(parameters) }
        if let body = route.body {
            operation["requestBody"] = ["required": .bool(!route.optionalBody), "content": ["application/json": ["schema": body]]]
        }
        operation["security"] = route.authenticated ? [["bearerAuth": []]] : []
        return .object(operation)
    }

    static func operationId(_ route: APIRoute) -> String {
        let words = route.path.split(separator: "/").filter { $0 != "api" }.map { segment -> String in
            let word = segment.hasPrefix(":") ? "by-" + segment.dropFirst() : String(segment)
            return word.replacingOccurrences(of: ".", with: "-")
        }
        return route.method.rawValue.lowercased() + "-" + words.joined(separator: "-")
    }
}
