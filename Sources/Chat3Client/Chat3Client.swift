import ChatCore
import Logging

/// Where and how to reach Chat3.
public struct Chat3ClientConfiguration: Sendable {
    /// The tenant API base, e.g. `http://127.0.0.1:3000/api`.
    public var baseURL: String
    public var apiKey: String?
    public var tenant: String
    /// Seconds.
    public var connectTimeout: Double
    /// Seconds for a whole exchange; also the budget for all retries of one call.
    public var requestTimeout: Double
    /// Extra attempts for idempotent GETs after a connection failure or a 5xx.
    public var maxRetries: Int
    /// Consecutive outage failures that open the circuit breaker.
    public var breakerThreshold: Int
    public var breakerCooldown: Duration
    /// How long a positive membership answer is trusted.
    public var membershipLifetime: Duration
    /// How long `coMembers(of:)` trusts a user's dialog list and a dialog's member list.
    public var coMembersLifetime: Duration = .seconds(30)
    /// Connections to Chat3 open at once (more calls wait for one) and kept alive between calls.
    public var maxConnections: Int

    public init(baseURL: String, apiKey: String?, tenant: String = "tnt_default", connectTimeout: Double = 2,
                requestTimeout: Double = 5, maxRetries: Int = 2, breakerThreshold: Int = 5,
                breakerCooldown: Duration = .seconds(2), membershipLifetime: Duration = .seconds(5),
                maxConnections: Int = 64) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.tenant = tenant
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.maxRetries = maxRetries
        self.breakerThreshold = breakerThreshold
        self.breakerCooldown = breakerCooldown
        self.membershipLifetime = membershipLifetime
        self.maxConnections = maxConnections
    }
}

/// The typed Chat3 tenant API client: one method per operation chatd needs, Chat3's envelopes decoded,
/// failures as `Chat3Error`. User-scoped endpoints (`/users/:u/dialogs…`) are used wherever Chat3 has
/// them, because Chat3 enforces membership there.
public final class Chat3Client: Sendable {
    public let configuration: Chat3ClientConfiguration
    public let breaker: CircuitBreaker
    /// Called after every exchange with its method, route template, duration and outcome label (`ok`,
    /// `breaker_open` or a `Chat3Error.label`); the daemon feeds its metrics from here.
    public typealias Observer = @Sendable (_ method: String, _ route: String, _ elapsed: Duration, _ outcome: String) -> Void

    private let transport: CurlTransport
    private let base: String
    private let headers: [String]
    private let logger: Logger
    private let observer: Observer
    private let memberships: ExpiringCache<MembershipKey, Bool>
    /// A message never moves to another dialog, so its dialog can be remembered for long.
    private let messageDialogs: ExpiringCache<MessageID, DialogID>
    /// Presence's view of who shares dialogs with whom (`coMembers(of:)`).
    private let userDialogIDs: ExpiringCache<UserID, [DialogID]>
    private let dialogMemberIDs: ExpiringCache<DialogID, [UserID]>

    private struct MembershipKey: Hashable, Sendable {
        var user: UserID
        var dialog: DialogID
    }

    public init(configuration: Chat3ClientConfiguration, logger: Logger, observer: @escaping Observer = { _, _, _, _ in }) {
        self.configuration = configuration
        self.logger = logger
        self.observer = observer
        var base = configuration.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
        var headers = ["Accept: application/json", "X-Tenant-ID: \(configuration.tenant)"]
        if let key = configuration.apiKey { headers.append("X-API-Key: \(key)") }
        self.headers = headers
        transport = CurlTransport(connectTimeout: configuration.connectTimeout,
                                  requestTimeout: configuration.requestTimeout,
                                  maxConnections: configuration.maxConnections)
        breaker = CircuitBreaker(threshold: configuration.breakerThreshold, cooldown: configuration.breakerCooldown)
        memberships = ExpiringCache(lifetime: configuration.membershipLifetime, capacity: 100_000)
        messageDialogs = ExpiringCache(lifetime: .seconds(3600), capacity: 100_000)
        userDialogIDs = ExpiringCache(lifetime: configuration.coMembersLifetime, capacity: 100_000)
        dialogMemberIDs = ExpiringCache(lifetime: configuration.coMembersLifetime, capacity: 100_000)
    }

    // MARK: Users

    /// Registers one of our users in Chat3. Returns false when it already existed (409 is fine).
    @discardableResult
    public func createUser(_ user: UserID) async throws(Chat3Error) -> Bool {
        do {
            _ = try await call(.post, ["users"], route: "/users", body: ["userId": .string(user.rawValue), "type": "user"])
            return true
        } catch .conflict {
            return false
        }
    }

    // MARK: Dialogs

    /// The user's dialogs, most recently active first (`GET /users/:u/dialogs`).
    public func userDialogs(of user: UserID, page: Int, limit: Int) async throws(Chat3Error) -> Chat3Page<Chat3UserDialog> {
        let json = try await call(.get, ["users", user.rawValue, "dialogs"], route: "/users/:u/dialogs",
                                  query: [("page", String(page)), ("limit", String(limit))])
        return try Self.page(json, page: page, limit: limit, Chat3UserDialog.init)
    }

    /// One dialog as `user` sees it, or nil when `user` is not a member (or the dialog does not exist).
    public func userDialog(of user: UserID, dialog: DialogID) async throws(Chat3Error) -> Chat3UserDialog? {
        let json = try await call(.get, ["users", user.rawValue, "dialogs"], route: "/users/:u/dialogs",
                                  query: [("filter", "(dialogId,eq,\(dialog.rawValue))"), ("limit", "1")])
        let found = try Self.page(json, page: 1, limit: 1, Chat3UserDialog.init).items.first { $0.dialogId == dialog }
        if found != nil { memberships.set(MembershipKey(user: user, dialog: dialog), true) }
        return found
    }

    /// Whether `user` belongs to `dialog`. Positive answers are remembered for `membershipLifetime`; chatd's
    /// own removals forget them at once, other instances' removals within that lifetime.
    public func isMember(_ user: UserID, of dialog: DialogID) async throws(Chat3Error) -> Bool {
        if memberships[MembershipKey(user: user, dialog: dialog)] == true { return true }
        return try await userDialog(of: user, dialog: dialog) != nil
    }

    public func createDialog(members: [UserID], meta: [String: JSONValue]) async throws(Chat3Error) -> Chat3Dialog {
        let body: JSONValue = [
            "members": .array(members.map { ["userId": .string($0.rawValue), "type": "user"] }),
            "meta": .object(meta),
        ]
        let json = try await call(.post, ["dialogs"], route: "/dialogs", body: body)
        guard let dialog = json["data"].flatMap(Chat3Dialog.init) else { throw .invalidResponse }
        for member in members { memberships.set(MembershipKey(user: member, dialog: dialog.dialogId), true) }
        forgetCoMembers(dialog.dialogId, members)
        return dialog
    }

    public func dialog(_ id: DialogID) async throws(Chat3Error) -> Chat3Dialog {
        let json = try await call(.get, ["dialogs", id.rawValue], route: "/dialogs/:d")
        guard let dialog = json["data"].flatMap(Chat3Dialog.init) else { throw .invalidResponse }
        return dialog
    }

    public func deleteDialog(_ id: DialogID) async throws(Chat3Error) {
        _ = try await call(.delete, ["dialogs", id.rawValue], route: "/dialogs/:d")
        memberships.removeAll { $0.dialog == id }
        dialogMemberIDs.remove(id)
    }

    // MARK: Members

    /// Dialogs and members looked at by `coMembers(of:)`: a bound on the Chat3 calls one connect costs.
    public static let coMemberDialogLimit = 500
    public static let coMemberLimit = 5000

    /// Everyone who shares at least one dialog with `user` (without `user`), from the first
    /// `coMemberDialogLimit` of its dialogs (most recently active first) and at most `coMemberLimit` people.
    /// Dialog lists and member lists are remembered for `coMembersLifetime`, so a reconnect storm costs
    /// Chat3 little; chatd's own membership writes forget the affected lists at once.
    public func coMembers(of user: UserID) async throws(Chat3Error) -> Set<UserID> {
        var result: Set<UserID> = []
        for dialog in try await dialogIDs(of: user) {
            for member in try await memberIDs(of: dialog) where member != user {
                result.insert(member)
                if result.count >= Self.coMemberLimit { return result }
            }
        }
        return result
    }

    private func dialogIDs(of user: UserID) async throws(Chat3Error) -> [DialogID] {
        if let cached = userDialogIDs[user] { return cached }
        var ids: [DialogID] = []
        var page = 1
        while ids.count < Self.coMemberDialogLimit {
            let result = try await userDialogs(of: user, page: page, limit: 100)
            ids += result.items.map(\.dialogId)
            if result.items.count < 100 || page >= result.pagination.pages { break }
            page += 1
        }
        let limited = Array(ids.prefix(Self.coMemberDialogLimit))
        userDialogIDs.set(user, limited)
        return limited
    }

    private func memberIDs(of dialog: DialogID) async throws(Chat3Error) -> [UserID] {
        if let cached = dialogMemberIDs[dialog] { return cached }
        var ids: [UserID] = []
        var page = 1
        while ids.count < Self.coMemberLimit {
            let result: Chat3Page<Chat3Member>
            do {
                result = try await members(of: dialog, page: page, limit: 100)
            } catch .notFound {
                break  // deleted since the dialog list was read
            }
            ids += result.items.compactMap { UserID(rawValue: $0.userId) }
            if result.items.count < 100 || page >= result.pagination.pages { break }
            page += 1
        }
        dialogMemberIDs.set(dialog, ids)
        return ids
    }

    /// Membership changed through chatd: the co-member lists that include it are stale.
    private func forgetCoMembers(_ dialog: DialogID, _ users: [UserID]) {
        dialogMemberIDs.remove(dialog)
        for user in users { userDialogIDs.remove(user) }
    }

    public func members(of dialog: DialogID, page: Int, limit: Int) async throws(Chat3Error) -> Chat3Page<Chat3Member> {
        let json = try await call(.get, ["dialogs", dialog.rawValue, "members"], route: "/dialogs/:d/members",
                                  query: [("page", String(page)), ("limit", String(limit))])
        return try Self.page(json, page: page, limit: limit, Chat3Member.init)
    }

    /// Adds `user`; returns false when it already was a member.
    @discardableResult
    public func addMember(_ user: UserID, to dialog: DialogID) async throws(Chat3Error) -> Bool {
        let (status, _) = try await exchange(.post, ["dialogs", dialog.rawValue, "members", "add"],
                                             route: "/dialogs/:d/members/add",
                                             body: ["userId": .string(user.rawValue), "type": "user"])
        memberships.set(MembershipKey(user: user, dialog: dialog), true)
        forgetCoMembers(dialog, [user])
        return status == 201
    }

    /// Drops a remembered membership, for a removal this process learned of from an update (it may have
    /// been made through another instance).
    public func forgetMembership(_ user: UserID, of dialog: DialogID) {
        memberships.remove(MembershipKey(user: user, dialog: dialog))
    }

    public func removeMember(_ user: UserID, from dialog: DialogID) async throws(Chat3Error) {
        memberships.remove(MembershipKey(user: user, dialog: dialog))
        _ = try await call(.post, ["dialogs", dialog.rawValue, "members", user.rawValue, "remove"],
                           route: "/dialogs/:d/members/:u/remove")
        memberships.remove(MembershipKey(user: user, dialog: dialog))
        forgetCoMembers(dialog, [user])
    }

    /// Sets `user`'s unread counter in `dialog` (`PATCH /dialogs/:d/members/:u/unread`); 0 marks everything
    /// read. Chat3 refuses a count above the current one (400) and a non-member (404). Returns Chat3's
    /// member state (`unreadCount`, `lastSeenAt`, `lastMessageAt`, …).
    @discardableResult
    public func setUnread(_ user: UserID, in dialog: DialogID, unreadCount: Int, lastSeenAt: Double? = nil,
                          reason: String? = nil) async throws(Chat3Error) -> JSONValue {
        var body: [String: JSONValue] = ["unreadCount": .number(Double(unreadCount))]
        if let lastSeenAt { body["lastSeenAt"] = .number(lastSeenAt) }
        if let reason { body["reason"] = .string(reason) }
        let json = try await call(.patch, ["dialogs", dialog.rawValue, "members", user.rawValue, "unread"],
                                  route: "/dialogs/:d/members/:u/unread", body: .object(body))
        return Self.scrubbed(json["data"] ?? .null)
    }

    /// Signals that `user` is typing; returns how long the indicator lasts. Chat3 answers 404 for non-members.
    public func typing(_ user: UserID, in dialog: DialogID) async throws(Chat3Error) -> Int {
        let json = try await call(.post, ["dialogs", dialog.rawValue, "member", user.rawValue, "typing"],
                                  route: "/dialogs/:d/member/:u/typing")
        return json["data"]?["expiresInMs"]?.intValue ?? 5000
    }

    // MARK: Messages

    /// Messages of `dialog` as `user` sees them, newest first. Chat3 answers 403 for non-members.
    public func messages(of dialog: DialogID, for user: UserID, page: Int, limit: Int) async throws(Chat3Error)
        -> Chat3Page<Chat3Message>
    {
        let json = try await call(.get, ["users", user.rawValue, "dialogs", dialog.rawValue, "messages"],
                                  route: "/users/:u/dialogs/:d/messages",
                                  query: [("page", String(page)), ("limit", String(limit))])
        return try Self.page(json, page: page, limit: limit, Chat3Message.init)
    }

    /// Chat3 does not check that the sender is a member: callers must.
    public func createMessage(in dialog: DialogID, sender: UserID, content: String, type: Chat3MessageType,
                              meta: [String: JSONValue]) async throws(Chat3Error) -> Chat3Message {
        var body: [String: JSONValue] = ["senderId": .string(sender.rawValue), "content": .string(content),
                                         "type": .string(type.rawValue)]
        if !meta.isEmpty { body["meta"] = .object(meta) }
        let json = try await call(.post, ["dialogs", dialog.rawValue, "messages"], route: "/dialogs/:d/messages",
                                  body: .object(body))
        guard let message = json["data"].flatMap(Chat3Message.init) else { throw .invalidResponse }
        messageDialogs.set(message.messageId, message.dialogId)
        return message
    }

    /// A message by id (`GET /messages/:m`), not scoped to a user: use it to learn the dialog only.
    public func message(_ id: MessageID) async throws(Chat3Error) -> Chat3Message {
        let json = try await call(.get, ["messages", id.rawValue], route: "/messages/:m")
        guard let message = json["data"].flatMap(Chat3Message.init) else { throw .invalidResponse }
        messageDialogs.set(message.messageId, message.dialogId)
        return message
    }

    /// The dialog a message belongs to (remembered, since it never changes).
    public func dialogOfMessage(_ id: MessageID) async throws(Chat3Error) -> DialogID {
        if let dialog = messageDialogs[id] { return dialog }
        return try await message(id).dialogId
    }

    /// Records `user`'s status for a message (user-scoped: 403 for non-members). Returns Chat3's record.
    @discardableResult
    public func setStatus(_ status: Chat3MessageStatus, message: MessageID, dialog: DialogID, user: UserID)
        async throws(Chat3Error) -> JSONValue
    {
        let json = try await call(.post, ["users", user.rawValue, "dialogs", dialog.rawValue, "messages",
                                          message.rawValue, "status", status.rawValue],
                                  route: "/users/:u/dialogs/:d/messages/:m/status/:s")
        return Self.scrubbed(json["data"] ?? .null)
    }

    /// Sets `reaction` (1–50 characters) for `user`; returns false when it was already set.
    @discardableResult
    public func setReaction(_ reaction: String, message: MessageID, dialog: DialogID, user: UserID)
        async throws(Chat3Error) -> Bool
    {
        try Self.checkReaction(reaction)
        let (status, _) = try await exchange(.post, ["users", user.rawValue, "dialogs", dialog.rawValue, "messages",
                                                     message.rawValue, "reactions", "set"],
                                             route: "/users/:u/dialogs/:d/messages/:m/reactions/set",
                                             body: ["reaction": .string(reaction)])
        return status == 201
    }

    /// Removes `reaction`; `notFound` when `user` had not set it.
    public func unsetReaction(_ reaction: String, message: MessageID, dialog: DialogID, user: UserID)
        async throws(Chat3Error)
    {
        try Self.checkReaction(reaction)
        _ = try await call(.post, ["users", user.rawValue, "dialogs", dialog.rawValue, "messages",
                                   message.rawValue, "reactions", "unset"],
                           route: "/users/:u/dialogs/:d/messages/:m/reactions/unset",
                           body: ["reaction": .string(reaction)])
    }

    static func checkReaction(_ reaction: String) throws(Chat3Error) {
        guard (1...50).contains(reaction.count) else { throw .badRequest(field: "reaction") }
    }

    // MARK: Health

    /// Whether Chat3 answers an authenticated request now. Goes through the breaker, so while it is open this
    /// answers false at once, and after the cool-down it is the probe that closes it again.
    public func ping() async -> Bool {
        do {
            _ = try await call(.get, ["users"], route: "/users", query: [("limit", "1")], retries: 0)
            return true
        } catch {
            return false
        }
    }

    // MARK: Exchange

    /// A successful exchange's JSON body (`.null` for 204).
    private func call(_ method: HTTPExchange.Method, _ segments: [String], route: String,
                      query: [(String, String)] = [], body: JSONValue? = nil, retries: Int? = nil)
        async throws(Chat3Error) -> JSONValue
    {
        try await exchange(method, segments, route: route, query: query, body: body, retries: retries).json
    }

    private func exchange(_ method: HTTPExchange.Method, _ segments: [String], route: String,
                          query: [(String, String)] = [], body: JSONValue? = nil, retries: Int? = nil)
        async throws(Chat3Error) -> (status: Int, json: JSONValue)
    {
        var headers = self.headers
        var bytes: [UInt8]?
        if let body {
            headers.append("Content-Type: application/json")
            bytes = Array(body.serialized().utf8)
        }
        let request = HTTPExchange(method: method, url: base + Chat3Path.make(segments, query: query),
                                   headers: headers, body: bytes)
        // Only GETs are idempotent here; a retried POST could create a second message.
        let attempts = 1 + (method == .get ? max(0, retries ?? configuration.maxRetries) : 0)
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int(configuration.requestTimeout * 1000))
        var attempt = 0
        while true {
            attempt += 1
            let outcome = await once(request, route: route)
            switch outcome {
            case .success(let answer):
                return answer
            case .failure(let error):
                let backoff = Self.backoff(attempt: attempt)
                guard error.isRetryable, attempt < attempts, breaker.state == .closed,
                      clock.now + backoff < deadline
                else { throw error }
                try? await Task.sleep(for: backoff)
            }
        }
    }

    /// Jittered exponential backoff: 50–100 ms, then 100–200 ms, …
    static func backoff(attempt: Int) -> Duration {
        let base = 50 * (1 << min(attempt - 1, 5))
        return .milliseconds(base + Int.random(in: 0...base))
    }

    private func once(_ request: HTTPExchange, route: String) async -> Result<(status: Int, json: JSONValue), Chat3Error> {
        guard breaker.permit() else {
            observer(request.method.rawValue, route, .zero, "breaker_open")
            return .failure(.unavailable)
        }
        let clock = ContinuousClock()
        let started = clock.now
        let result = await transport.perform(request).flatMap(Self.interpret)
        let elapsed = clock.now - started
        switch result {
        case .success:
            breaker.record(success: true)
            observer(request.method.rawValue, route, elapsed, "ok")
        case .failure(let error):
            breaker.record(success: !error.isOutage)
            observer(request.method.rawValue, route, elapsed, error.label)
            if error.isOutage || error == .unauthorized || error == .invalidResponse {
                logger.warning("chat3 call failed", metadata: [
                    "chat3.method": "\(request.method.rawValue)", "chat3.route": "\(route)", "chat3.error": "\(error.label)",
                    "chat3.breaker": "\(breaker.state.rawValue)",
                ])
            }
        }
        return result
    }

    /// Status and body → decoded JSON or a typed error. Chat3's error text is read only for a field name.
    static func interpret(_ answer: HTTPAnswer) -> Result<(status: Int, json: JSONValue), Chat3Error> {
        switch answer.status {
        case 200..<300:
            if answer.status == 204 || answer.body.isEmpty { return .success((answer.status, .null)) }
            guard let json = try? JSONReader.parse(answer.body), json.objectValue != nil else {
                return .failure(.invalidResponse)
            }
            return .success((answer.status, json))
        case 400:
            let json = try? JSONReader.parse(answer.body)
            let field = json?["field"]?.stringValue ?? json?["details"]?.arrayValue?.first?["field"]?.stringValue
            return .failure(.badRequest(field: field.flatMap(safeFieldName)))
        case 401: return .failure(.unauthorized)
        case 403: return .failure(.forbidden)
        case 404: return .failure(.notFound)
        case 409: return .failure(.conflict)
        case 429: return .failure(.rateLimited)
        default: return .failure(.server(status: answer.status))
        }
    }

    /// A field name fit for logs and our own messages: short and plain, else dropped.
    static func safeFieldName(_ text: String) -> String? {
        guard (1...64).contains(text.count),
              text.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._[]".unicodeScalars.contains($0)) })
        else { return nil }
        return text
    }

    /// Drops Mongo internals (`_id`, `__v`) that some Chat3 endpoints return unsanitized.
    static func scrubbed(_ value: JSONValue) -> JSONValue {
        guard case .object(var object) = value else { return value }
        object["_id"] = nil
        object["__v"] = nil
        object["id"] = nil
        return .object(object)
    }

    static func page<Item>(_ json: JSONValue, page: Int, limit: Int, _ make: (JSONValue) -> Item?)
        throws(Chat3Error) -> Chat3Page<Item>
    {
        guard let data = json["data"]?.arrayValue else { throw .invalidResponse }
        let items = data.compactMap(make)
        return Chat3Page(items: items, pagination: Chat3Pagination(json["pagination"], fallbackPage: page,
                                                                   fallbackLimit: limit, count: items.count))
    }
}
