import ChatCore

/// A request seen by the emulator, for `GET /_sim/requests`.
struct LoggedRequest: Sendable {
    var method: String
    var path: String
    var query: String
    var tenantId: String?
    var at: SimTime

    var json: SimJSON {
        .obj(["method": .string(method), "path": .string(path), "query": query.isEmpty ? .null : .string(query),
              "tenantId": .opt(tenantId), "at": at.json])
    }
}

/// An injected fault (`POST /_sim/fail`).
struct SimFault: Sendable {
    enum Mode: Sendable {
        case status(Int)
        case hang(milliseconds: Int)
    }

    var mode: Mode
    /// How many more requests it applies to; nil = until cleared.
    var remaining: Int?
    var pathPrefix: String?
    var method: String?

    func applies(to request: SimRequest) -> Bool {
        if let method, method.uppercased() != request.method { return false }
        if let pathPrefix, !request.path.hasPrefix(pathPrefix) { return false }
        return true
    }
}

/// What processing a request produced.
enum SimOutcome: Sendable {
    /// `body == nil` means 204 without a body.
    case reply(status: Int, body: SimJSON?, updates: [PublishedUpdate])
    case failure(SimError)
    case injected(SimFault.Mode)
    /// An authenticated test-hook request, served by `Chat3Simulator`.
    case hook(SimRoute)
}

/// All emulated Chat3 state. One actor, so every request sees a consistent store; handlers are synchronous and
/// cheap, and JSON is built here but written to bytes by the caller, outside the actor.
actor SimState {
    typealias Reply = (status: Int, body: SimJSON?)

    static let defaultTenant = "tnt_default"
    static let maxLoggedRequests = 50_000

    let generation: UpdateGeneration
    let exchange: String
    let counterUpdates: Bool
    private let initialKeys: [String: APIKeyRecord]
    var keys: [String: APIKeyRecord]
    var tenants: [String: TenantRecord] = [:]
    var tenantOrder: [String] = []
    var clock = SimClock()
    var requestLog: [LoggedRequest] = []
    var faults: [SimFault] = []
    /// Updates produced by the request being processed.
    var outbox: [PublishedUpdate] = []
    var statsVersion = 0

    init(apiKey: String, generation: UpdateGeneration, exchange: String, counterUpdates: Bool) {
        self.generation = generation
        self.exchange = exchange
        self.counterUpdates = counterUpdates
        self.initialKeys = [apiKey: APIKeyRecord(permissions: ["read", "write", "delete"], active: true)]
        self.keys = initialKeys
        let now = clock.now()
        tenants[Self.defaultTenant] = TenantRecord(tenantId: Self.defaultTenant, createdAt: now)
        tenantOrder.append(Self.defaultTenant)
    }

    func reset() {
        keys = initialKeys
        tenants.removeAll()
        tenantOrder.removeAll()
        requestLog.removeAll()
        faults.removeAll()
        outbox.removeAll()
        let now = clock.now()
        tenants[Self.defaultTenant] = TenantRecord(tenantId: Self.defaultTenant, createdAt: now)
        tenantOrder.append(Self.defaultTenant)
    }

    // MARK: Hooks

    func logRequest(_ request: SimRequest) {
        if requestLog.count >= Self.maxLoggedRequests { requestLog.removeFirst(requestLog.count / 2) }
        requestLog.append(LoggedRequest(method: request.method, path: request.path, query: request.query,
                                        tenantId: request.headers["x-tenant-id"], at: clock.now()))
    }

    func loggedRequests() -> [LoggedRequest] { requestLog }

    func addFault(_ fault: SimFault) { faults.append(fault) }

    func clearFaults() { faults.removeAll() }

    func setKey(_ key: String, _ record: APIKeyRecord) { keys[key] = record }

    private func takeFault(for request: SimRequest) -> SimFault.Mode? {
        guard let index = faults.firstIndex(where: { $0.applies(to: request) }) else { return nil }
        let mode = faults[index].mode
        if let remaining = faults[index].remaining {
            if remaining <= 1 { faults.remove(at: index) } else { faults[index].remaining = remaining - 1 }
        }
        return mode
    }

    // MARK: Processing

    /// Runs one matched request: log, faults, auth (key → tenant → permission), then the handler.
    func process(_ route: SimRoute, _ request: SimRequest, body: JSONValue?, firstAttempt: Bool) -> SimOutcome {
        if firstAttempt {
            logRequest(request)
            if !route.isHook, let fault = takeFault(for: request) { return .injected(fault) }
        }
        outbox.removeAll(keepingCapacity: true)
        do throws(SimError) {
            if case .health = route {
                return .reply(status: 200, body: .obj(["status": "ok", "service": "chat3-sim"]), updates: [])
            }
            try authenticate(request, access: route.access)
            if route.isHook { return .hook(route) }
            if route.isTenantAdmin {
                let reply = try tenantAdmin(route, request, body: body)
                return .reply(status: reply.status, body: reply.body, updates: [])
            }
            let tenant = try resolveTenant(request)
            if case .permission(let permission) = route.access, keys[request.headers["x-api-key"] ?? ""]?
                .permissions.contains(permission) != true
            {
                throw .permissionRequired(permission)
            }
            let reply = try handle(route, request, body: body, tenant: tenant)
            let updates = outbox
            outbox.removeAll(keepingCapacity: true)
            return .reply(status: reply.status, body: reply.body, updates: updates)
        } catch {
            outbox.removeAll(keepingCapacity: true)
            return .failure(error)
        }
    }

    private func authenticate(_ request: SimRequest, access: SimRoute.Access) throws(SimError) {
        if case .open = access { return }
        guard let key = request.headers["x-api-key"], !key.isEmpty else { throw .missingAPIKey }
        guard let record = keys[key] else { throw .invalidAPIKey }
        guard record.active else { throw .inactiveAPIKey }
    }

    private func resolveTenant(_ request: SimRequest) throws(SimError) -> TenantRecord {
        let raw = request.headers["x-tenant-id"]?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        let tenantId = raw.isEmpty ? Self.defaultTenant : raw
        guard let tenant = tenants[tenantId] else { throw .tenantNotFound(tenantId) }
        return tenant
    }

    private func handle(_ route: SimRoute, _ request: SimRequest, body: JSONValue?, tenant t: TenantRecord)
        throws(SimError) -> Reply
    {
        let query = SimQuery(request.query)
        switch route {
        case .listUsers: return try listUsers(t, query)
        case .createUser: return try createUser(t, body)
        case .getUser(let u): return try getUser(t, u)
        case .updateUser(let u): return try updateUser(t, u, body)
        case .deleteUser(let u): return try deleteUser(t, u)
        case .userDialogs(let u): return try userDialogs(t, u, query)
        case .userMessages(let u, let d): return try userMessages(t, u, d, query)
        case .userMessage(let u, let d, let m): return try userMessage(t, u, d, m)
        case .setStatus(let u, let d, let m, let s): return try setStatus(t, u, d, m, s)
        case .statuses(let u, let d, let m): return try statuses(t, u, d, m, query)
        case .reactions(let u, let d, let m): return try reactions(t, u, d, m, query)
        case .reactionAction(let u, let d, let m, let a): return try reactionAction(t, u, d, m, a, body)
        case .markAllRead(let u, let d): return try markAllRead(t, u, d)
        case .listDialogs: return try listDialogs(t, query)
        case .createDialog: return try createDialog(t, body)
        case .getDialog(let d): return try getDialog(t, d)
        case .deleteDialog(let d): return try deleteDialog(t, d)
        case .members(let d): return try members(t, d, query)
        case .addMember(let d): return try addMember(t, d, body)
        case .removeMember(let d, let u): return try removeMember(t, d, u)
        case .setUnread(let d, let u): return try setUnread(t, d, u, body)
        case .typing(let d, let u): return try typing(t, d, u)
        case .createMessage(let d): return try createMessage(t, d, body)
        case .dialogMessages(let d): return try dialogMessages(t, d, query)
        case .listMessages: return try listMessages(t, query)
        case .getMessage(let m): return try getMessage(t, m)
        case .updateMessage(let m): return try updateMessage(t, m, body)
        case .getMeta(let type, let id): return try getMeta(t, type, id)
        case .putMetaMap(let type, let id): return try putMetaMap(t, type, id, body)
        case .deleteMetaKeys(let type, let id): return try deleteMetaKeys(t, type, id, body)
        case .putMeta(let type, let id, let key): return try putMeta(t, type, id, key, body)
        case .deleteMeta(let type, let id, let key): return try deleteMeta(t, type, id, key)
        default: throw .internalError("unhandled route")
        }
    }

    // MARK: Tenants

    private func tenantAdmin(_ route: SimRoute, _ request: SimRequest, body: JSONValue?) throws(SimError) -> Reply {
        switch route {
        case .listTenants:
            let items = tenantOrder.compactMap { tenants[$0] }.map(tenantJSON)
            return (200, .obj(["data": .array(items), "pagination": Self.pagination(page: 1, limit: max(items.count, 1),
                                                                                 total: items.count)]))
        case .getTenant(let id):
            guard let tenant = tenants[id.lowercased()] else { throw .notFound("Tenant not found") }
            return (200, .obj(["data": tenantJSON(tenant)]))
        case .deleteTenant(let id):
            guard tenants.removeValue(forKey: id.lowercased()) != nil else { throw .notFound("Tenant not found") }
            tenantOrder.removeAll { $0 == id.lowercased() }
            return (200, .obj(["message": "Tenant deleted successfully"]))
        case .createTenant:
            if request.headers["x-tenant-id"] != nil {
                throw .badRequest("X-Tenant-ID header must not be provided when creating a tenant")
            }
            let object = try Self.object(body)
            var tenantId = SimID.tenant()
            if let given = object["tenantId"] {
                guard let text = given.stringValue, !text.isEmpty, text.count <= 20 else {
                    throw .validation([.init(field: "tenantId", message: "\"tenantId\" length must be less than or equal to 20 characters long",
                                             value: SimJSON(given))])
                }
                tenantId = text.lowercased()
            }
            guard tenants[tenantId] == nil else { throw .conflict("Tenant already exists") }
            let tenant = TenantRecord(tenantId: tenantId, createdAt: clock.now())
            tenants[tenantId] = tenant
            tenantOrder.append(tenantId)
            return (201, .obj(["data": tenantJSON(tenant), "message": "Tenant created successfully"]))
        default:
            throw .internalError("unhandled route")
        }
    }

    private func tenantJSON(_ tenant: TenantRecord) -> SimJSON {
        .obj(["tenantId": .string(tenant.tenantId), "createdAt": tenant.createdAt.json])
    }

    // MARK: Helpers shared by handlers

    /// A JSON body as an object; a missing body is `{}`.
    static func object(_ body: JSONValue?) throws(SimError) -> [String: JSONValue] {
        guard let body else { return [:] }
        guard let object = body.objectValue else {
            throw .validation([.init(field: "value", message: "\"value\" must be of type object", value: SimJSON(body))])
        }
        return object
    }

    struct Page {
        var page: Int
        var limit: Int

        func slice<T>(_ items: [T]) -> ArraySlice<T> {
            let start = min((page - 1) * limit, items.count)
            return items[start..<min(start + limit, items.count)]
        }

        func json(total: Int) -> SimJSON { SimState.pagination(page: page, limit: limit, total: total) }
    }

    static func pagination(page: Int, limit: Int, total: Int) -> SimJSON {
        .obj(["page": .int(page), "limit": .int(limit), "total": .int(total),
              "pages": .int(limit > 0 ? (total + limit - 1) / limit : 0)])
    }

    static func page(_ query: SimQuery, defaultLimit: Int, maxLimit: Int?) throws(SimError) -> Page {
        var details: [SimError.Detail] = []
        var page = 1
        var limit = defaultLimit
        if let raw = query["page"] {
            if let value = Int(raw), value >= 1 { page = value } else {
                details.append(.init(field: "page", message: Int(raw) == nil ? "\"page\" must be a number"
                                         : "\"page\" must be greater than or equal to 1", value: .string(raw)))
            }
        }
        if let raw = query["limit"] {
            if let value = Int(raw), value >= 1, maxLimit.map({ value <= $0 }) ?? true { limit = value } else {
                let message: String
                if Int(raw) == nil {
                    message = "\"limit\" must be a number"
                } else if let maxLimit, let value = Int(raw), value > maxLimit {
                    message = "\"limit\" must be less than or equal to \(maxLimit)"
                } else {
                    message = "\"limit\" must be greater than or equal to 1"
                }
                details.append(.init(field: "limit", message: message, value: .string(raw)))
            }
        }
        guard details.isEmpty else { throw .validation(details) }
        return Page(page: page, limit: limit)
    }

    static func filter(_ query: SimQuery) throws(SimError) -> SimFilter? {
        guard let raw = query["filter"], !raw.isEmpty else { return nil }
        do {
            return try SimFilter.parse(raw)
        } catch {
            throw .badRequest("Invalid filter format: \(error.message)")
        }
    }

    static func requireDialogID(_ id: String) throws(SimError) {
        guard SimID.isDialogID(id) else {
            throw .invalidParameter(field: "dialogId", received: id, example: "dlg_abc123def456ghi789jk")
        }
    }

    static func requireMessageID(_ id: String) throws(SimError) {
        guard SimID.isMessageID(id) else {
            throw .invalidParameter(field: "messageId", received: id, example: "msg_abc123def456ghi789jk")
        }
    }

    static func requireUserID(_ id: String) throws(SimError) {
        guard SimID.isUserID(id) else {
            throw .invalidParameter(field: "userId", received: id, example: "carl")
        }
    }

    /// Validates a `userId` body field: a string of 1–100 characters without dots.
    static func userIDField(_ value: JSONValue?, field: String = "userId") -> SimError.Detail? {
        guard let value else { return .init(field: field, message: "\"\(field)\" is required", value: .null) }
        guard let text = value.stringValue else {
            return .init(field: field, message: "\"\(field)\" must be a string", value: SimJSON(value))
        }
        if text.isEmpty { return .init(field: field, message: "\"\(field)\" is not allowed to be empty", value: .string(text)) }
        if text.count > 100 {
            return .init(field: field, message: "\"\(field)\" length must be less than or equal to 100 characters long",
                         value: .string(text))
        }
        if text.contains(".") {
            return .init(field: field, message: "\"\(field)\" must not contain dots", value: .string(text))
        }
        return nil
    }

    /// Accepts `v` or `{value, dataType}`, as Chat3 meta writes do.
    static func metaWrite(_ raw: JSONValue) -> (value: JSONValue, dataType: String) {
        if case .object(let object) = raw, let value = object["value"],
           Set(object.keys).isSubset(of: ["value", "dataType", "scope"])
        {
            return (value, object["dataType"]?.stringValue ?? MetaEntry.dataType(of: value))
        }
        return (raw, MetaEntry.dataType(of: raw))
    }

    @discardableResult
    func setMeta(_ t: TenantRecord, _ entityType: String, _ entityId: String, key: String, value: JSONValue,
                 dataType: String, now: SimTime) -> MetaEntry {
        let storeKey = TenantRecord.metaKey(entityType, entityId)
        var entries = t.meta[storeKey] ?? [:]
        var entry = entries[key] ?? MetaEntry(objectId: SimID.objectID(), value: value, dataType: dataType,
                                              createdAt: now, updatedAt: now)
        entry.value = value
        entry.dataType = dataType
        entry.updatedAt = now
        entries[key] = entry
        t.meta[storeKey] = entries
        return entry
    }

    func dialog(_ t: TenantRecord, _ dialogId: String) throws(SimError) -> DialogRecord {
        try Self.requireDialogID(dialogId)
        guard let dialog = t.dialogs[dialogId] else { throw .notFound("Dialog not found") }
        return dialog
    }

    /// Creates the user if missing; overwrites its type when one is given.
    @discardableResult
    func ensureUser(_ t: TenantRecord, _ userId: String, type: String?, now: SimTime) -> (UserRecord, created: Bool) {
        let key = userId.lowercased()
        if let user = t.users[key] {
            if let type { user.type = type }
            return (user, false)
        }
        let user = UserRecord(userId: key, type: type ?? "user", createdAt: now)
        t.users[key] = user
        t.userOrder.append(key)
        return (user, true)
    }

    // MARK: Update emission

    /// Fans an event out to `recipients` (in order), one Update each, sharing one `eventId`.
    func emit(_ event: SimEvent, in t: TenantRecord, to recipients: [String], eventId: String = SimID.event(),
              sections: (String) -> [SimJSON.Field]) {
        let now = clock.now()
        for recipient in recipients {
            outbox.append(SimUpdateBuilder.build(
                event: event, eventId: eventId, generation: generation, exchange: exchange, tenantId: t.tenantId,
                recipient: recipient, recipientType: t.userType(recipient), sections: sections(recipient), now: now))
        }
    }

    /// `data.dialog` of dialog and message Updates: the dialog plus the recipient's unread count.
    func dialogSection(_ t: TenantRecord, _ dialog: DialogRecord, for recipient: String) -> SimJSON {
        .obj(["dialogId": .string(dialog.dialogId), "tenantId": .string(t.tenantId), "createdAt": dialog.createdAt.json,
              "meta": t.metaJSON("dialog", dialog.dialogId),
              "stats": .obj(["unreadCount": .int(dialog.members[recipient]?.unreadCount ?? 0)])])
    }

    func memberSection(_ t: TenantRecord, _ dialog: DialogRecord, _ member: MemberRecord, legacy: Bool) -> SimJSON {
        var state: [SimJSON.Field] = [
            .init("unreadCount", .int(member.unreadCount)),
            .init("lastSeenAt", member.lastSeenAt?.json ?? .null),
            .init("lastMessageAt", member.lastMessageAt?.json ?? .null),
        ]
        if legacy { state.append(.init("isActive", .bool(dialog.members[member.userId] != nil))) }
        return .obj(["userId": .string(member.userId),
                     "meta": t.metaJSON("dialogMember", "\(dialog.dialogId):\(member.userId)"),
                     "state": .object(state)])
    }

    /// Emits `dialog.member.add|remove|changed` for `member`.
    func emitMemberEvent(_ type: SimEventType, _ t: TenantRecord, _ dialog: DialogRecord, _ member: MemberRecord,
                         to recipients: [String], updatedFields: [String]) {
        let legacy = generation == .legacy
        let memberJSON = memberSection(t, dialog, member, legacy: legacy)
        emit(SimEvent(type, entityId: dialog.dialogId, dialogId: dialog.dialogId, subjectUserId: member.userId,
                      updatedFields: updatedFields), in: t, to: recipients) { recipient in
            [.init("dialog", self.dialogSection(t, dialog, for: recipient)), .init("member", memberJSON)]
        }
    }

    /// Counter-worker Updates after a message (contract §7.4): a minimal `update.dialog` to each recipient
    /// but the sender, and `update.user` with fresh stats to everyone, all under the domain event's id.
    func emitCounters(_ t: TenantRecord, _ dialog: DialogRecord, sourceEvent: SimEventType, eventId: String,
                      dialogRecipients: [String], userRecipients: [String]) {
        guard counterUpdates, generation == .current else { return }
        emit(SimEvent(sourceEvent, entityId: dialog.dialogId, dialogId: dialog.dialogId,
                      updatedFields: ["member.state.unreadCount", "dialog.stats.unreadCount"], updateType: "update.dialog"),
             in: t, to: dialogRecipients, eventId: eventId) { recipient in
            let unread = dialog.members[recipient]?.unreadCount ?? 0
            return [.init("dialog", .obj(["dialogId": .string(dialog.dialogId), "stats": .obj(["unreadCount": .int(unread)])])),
                    .init("member", .obj(["userId": .string(recipient), "meta": .object([]),
                                          "state": .obj(["unreadCount": .int(unread)])]))]
        }
        // entityId of a counter `update.user` is its recipient, so each gets its own fan-out of one.
        for recipient in userRecipients {
            guard let user = t.user(recipient) else { continue }
            emit(SimEvent(sourceEvent, entityId: recipient, subjectUserId: recipient, updatedFields: ["user.stats"],
                          updateType: "update.user"), in: t, to: [recipient], eventId: eventId) { _ in
                [.init("user", self.userJSON(t, user, detailed: true, includeTenant: false))]
            }
        }
    }
}
