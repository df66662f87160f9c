import Chat3Client
import ChatCore
import Foundation
import Hummingbird

extension APIError {
    /// Chat3 failures on the wire when a route has no better answer. Chat3's own text never passes through.
    init(chat3 error: Chat3Error) {
        switch error {
        case .unavailable, .timeout, .unauthorized, .server, .invalidResponse: self = .chat3Unavailable
        case .notFound: self = .notFound("Not found")
        case .forbidden: self = .forbidden("Forbidden")
        case .badRequest(let field):
            self = .badRequest(field.map { "The chat service rejected \($0)" } ?? "The chat service rejected the request")
        case .conflict: self = .conflict("Conflict")
        case .rateLimited: self = .rateLimited(retryAfterSeconds: 1, message: "Too many requests")
        }
    }
}

/// Edge validation of path parameters, query and bodies: everything is checked before any Chat3 call.
enum RouteInput {
    static func caller(_ context: ChatRequestContext) throws -> UserID {
        guard let identity = context.identity else { throw APIError.unauthorized }
        return identity.user.userId
    }

    static func dialogID(_ context: ChatRequestContext, _ name: String = "dialogId") throws -> DialogID {
        guard let raw = context.parameters.get(name), let id = DialogID(rawValue: raw) else {
            throw APIError.badRequest("Invalid dialog id: expected dlg_ and 20 characters of a-z0-9")
        }
        return id
    }

    static func messageID(_ context: ChatRequestContext, _ name: String = "messageId") throws -> MessageID {
        guard let raw = context.parameters.get(name), let id = MessageID(rawValue: raw) else {
            throw APIError.badRequest("Invalid message id: expected msg_ and 20 characters of a-z0-9")
        }
        return id
    }

    static func userID(_ text: String?) throws -> UserID {
        guard let text, let id = UserID(rawValue: text) else {
            throw APIError.badRequest("Invalid user id: expected usr_ and 8 characters of a-z0-9")
        }
        return id
    }

    /// `page` (≥ 1) and `limit` (1…100) from the query.
    static func paging(_ request: Request, defaultLimit: Int) throws -> (page: Int, limit: Int) {
        let query = request.uri.queryParameters
        var page = 1
        var limit = defaultLimit
        if let raw = query.get("page") {
            guard let value = Int(raw), (1...100_000).contains(value) else {
                throw APIError.badRequest("page must be an integer from 1")
            }
            page = value
        }
        if let raw = query.get("limit") {
            guard let value = Int(raw), (1...100).contains(value) else {
                throw APIError.badRequest("limit must be an integer from 1 to 100")
            }
            limit = value
        }
        return (page, limit)
    }

    /// A string field; a wrong JSON type is a 400 naming the field.
    static func string(_ body: [String: JSONValue], _ field: String, required: Bool) throws -> String? {
        switch body[field] {
        case .string(let value)?: return value
        case nil, .null?:
            if required { throw APIError.badRequest("\(field) is required") }
            return nil
        default: throw APIError.badRequest("\(field) must be a string")
        }
    }

    /// A reaction: 1 to 50 characters, no control characters.
    static func reaction(_ text: String?) throws -> String {
        guard let text, (1...50).contains(text.count),
              !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { throw APIError.badRequest("reaction must be 1 to 50 characters") }
        return text
    }

    /// `http(s)://host…`, at most 2048 characters.
    static func isWebURL(_ text: String) -> Bool {
        guard text.count <= 2048, let url = URL(string: text), let scheme = url.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
        else { return false }
        return true
    }

    /// Meta keys as Chat3 allows them (`[A-Za-z0-9_]`, at most 100), at most 20 of them; each value and
    /// the whole object within their byte limits (serialized JSON).
    static func meta(_ value: JSONValue?, maxBytes: Int = .max, maxValueBytes: Int = .max) throws -> [String: JSONValue] {
        guard let value, value != .null else { return [:] }
        guard let object = value.objectValue else { throw APIError.badRequest("meta must be an object") }
        guard object.count <= 20 else { throw APIError.badRequest("meta has more than 20 keys") }
        for key in object.keys {
            guard (1...100).contains(key.utf8.count),
                  key.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 })
            else { throw APIError.badRequest("meta keys must be 1 to 100 characters of A-Z, a-z, 0-9 and _") }
        }
        for (key, item) in object where item.serialized().utf8.count > maxValueBytes {
            throw APIError.badRequest("meta.\(key) is over \(maxValueBytes) bytes")
        }
        guard value.serialized().utf8.count <= maxBytes else { throw APIError.badRequest("meta is over \(maxBytes) bytes") }
        return object
    }
}
