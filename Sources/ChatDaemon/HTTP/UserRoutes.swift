import ChatCore
import ChatStore
import Foundation
import Hummingbird

/// `/api/users…`: the caller's profile, and finding people to start a dialog with (the seed frontend's
/// create-dialog view).
///
/// What a stranger may see: another user is shown as `{userId, name}` only, never a phone number,
/// creation or activity time. A search finds active users by part of their name, or one user by their
/// exact phone number (whoever types a full number already knows it; the answer still carries no phone).
/// The caller never finds itself, and disabled users are never found.
struct UserRoutes {
    static let searchLength = 2...100
    /// Matches counted for one search: a directory is not for browsing, and this bounds the store's work.
    static let searchCap = 200

    let store: any UserStore
    let phoneSearchHourlyLimit: Int
    let metrics: ChatMetrics

    init(services: DaemonServices) {
        store = services.store
        phoneSearchHourlyLimit = services.config.phoneSearchHourlyLimit
        metrics = services.metrics
    }

    var routes: [APIRoute] {
        [
            APIRoute(method: .get, path: "/api/users",
                     summary: "Find users by part of their name or by exact phone; shows userId and name only",
                     tag: "users",
                     query: [APIParameter(name: "search", schema: Schema.search(maxLength: Self.searchLength.upperBound)), .page, .limit],
                     response: Schema.object([
                         "data": Schema.array(Schema.object(["userId": Schema.pattern(OpenAPIDocument.userIDPattern),
                                                             "name": Schema.string, "isBot": Schema.boolean],
                                                            required: ["userId", "name"])),
                         "pagination": Schema.pagination,
                     ], required: ["data", "pagination"]),
                     errors: [400, 429, 503], handler: { try await self.search($0, $1) }),
            APIRoute(method: .get, path: "/api/users/me", summary: "The caller's profile", tag: "users",
                     response: Schema.object(["data": Schema.object([
                         "userId": Schema.pattern(OpenAPIDocument.userIDPattern), "name": Schema.string,
                         "phone": Schema.string, "createdAt": Schema.dateTime, "lastActiveAt": Schema.nullable(Schema.dateTime),
                     ], required: ["userId", "name", "phone", "createdAt"])], required: ["data"]),
                     handler: { try await self.me($0, $1) }),
        ]
    }

    func me(_ request: Request, _ context: ChatRequestContext) async throws -> Response {
        guard let identity = context.identity else { throw APIError.unauthorized }
        let user = identity.user
        return JSONResponse.ok(["data": [
            "userId": .string(user.userId.rawValue), "name": .string(user.name.value), "phone": .string(user.phone.digits),
            "createdAt": .string(Self.timestamp(user.createdAt)),
            "lastActiveAt": user.lastActiveAt.map { .string(Self.timestamp($0)) } ?? .null,
        ]])
    }

    func search(_ request: Request, _ context: ChatRequestContext) async throws -> Response {
        let me = try RouteInput.caller(context)
        let (page, limit) = try RouteInput.paging(request, defaultLimit: 50)
        // Lengths in code points, as the document's JSON Schema counts them.
        let raw = Self.formValue("search", in: request.uri.query) ?? ""
        guard raw.unicodeScalars.count <= Self.searchLength.upperBound else {
            throw APIError.badRequest("search must be 2 to 100 characters")
        }
        let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        // The view opens with an empty box: nothing typed finds nobody (no listing of all users).
        guard !text.isEmpty else { return Self.page([], page: page, limit: limit) }
        guard text.unicodeScalars.count >= Self.searchLength.lowerBound,
              !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { throw APIError.badRequest("search must be 2 to 100 characters") }
        var found: [User]
        if let phone = Self.phone(text) {
            try await countPhoneSearch(by: me)
            found = try await store.user(phone: phone).map { [$0] } ?? []
            found.removeAll { $0.status != .active }
        } else {
            found = try await store.listUsers(UserQuery(nameContains: text, status: .active, limit: Self.searchCap + 1))
        }
        found.removeAll { $0.userId == me }
        return Self.page(Array(found.prefix(Self.searchCap)), page: page, limit: limit)
    }

    /// Counts one exact-phone search of `caller` against `auth.phone_search_hourly_limit`, in the store so
    /// that every instance shares the count. Whoever types a full number already knows it, but a caller
    /// with a list of numbers could otherwise learn which of them use chatd.
    private func countPhoneSearch(by caller: UserID) async throws {
        let window = 3600.0, now = Date().timeIntervalSince1970
        let start = (now / window).rounded(.down) * window
        let count = try await store.incrementCounter(key: "phonesearch:\(caller.rawValue)",
                                                     windowStart: Date(timeIntervalSince1970: start),
                                                     expiresAt: Date(timeIntervalSince1970: start + window))
        guard count <= phoneSearchHourlyLimit else {
            metrics.limitHits("phone_search").increment()
            throw APIError.rateLimited(retryAfterSeconds: max(1, Int((start + window - now).rounded(.up))),
                                       message: "too many searches by phone number; try again later")
        }
    }

    /// A query value decoded as HTML forms encode it: `+` is a space, `%2B` a plus (a phone's leading +).
    static func formValue(_ name: String, in query: String?) -> String? {
        for pair in (query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == name else { continue }
            return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return nil
    }

    /// The search as a phone number, when it is one: digits with the usual punctuation, 11 to 15 digits.
    static func phone(_ text: String) -> Phone? {
        guard text.contains(where: \.isNumber), !text.contains(where: \.isLetter) else { return nil }
        return try? Phone(normalizing: text)
    }

    static func page(_ users: [User], page: Int, limit: Int) -> Response {
        let start = min(users.count, (page - 1) * limit)
        let items = users[start..<min(users.count, start + limit)].map { user -> JSONValue in
            ["userId": .string(user.userId.rawValue), "name": .string(user.name.value), "isBot": false]
        }
        let pages = (users.count + limit - 1) / limit
        return JSONResponse.ok(["data": .array(items), "pagination": [
            "page": .number(Double(page)), "limit": .number(Double(limit)),
            "total": .number(Double(users.count)), "pages": .number(Double(pages)),
        ]])
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
