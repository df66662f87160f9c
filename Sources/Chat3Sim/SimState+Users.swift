import ChatCore

extension SimState {
    /// A User as REST shows it; `detailed` adds `meta` and `stats` (GET routes).
    func userJSON(_ t: TenantRecord, _ user: UserRecord, detailed: Bool, includeTenant: Bool = true) -> SimJSON {
        var fields: [SimJSON.Field] = [
            .init("userId", .string(user.userId)),
            .init("tenantId", includeTenant ? .string(t.tenantId) : .null),
            .init("type", .string(user.type)),
            .init("createdAt", user.createdAt.json),
        ]
        if detailed {
            fields.append(.init("meta", t.metaJSON("user", user.userId)))
            fields.append(.init("stats", userStats(t, user.userId)))
        } else if !includeTenant {
            fields.append(.init("meta", t.metaJSON("user", user.userId)))
        }
        return .object(fields)
    }

    /// Computed on demand from the memberships; Chat3's counter-worker keeps the same numbers.
    func userStats(_ t: TenantRecord, _ userId: String) -> SimJSON {
        var dialogCount = 0
        var unreadDialogs = 0
        var totalUnread = 0
        var totalMessages = 0
        var bySenderType: [(String, Int)] = []
        for dialogId in t.memberships[userId] ?? [] {
            guard let dialog = t.dialogs[dialogId], let member = dialog.members[userId] else { continue }
            dialogCount += 1
            totalMessages += dialog.messageIds.count
            guard member.unreadCount > 0 else { continue }
            unreadDialogs += 1
            totalUnread += member.unreadCount
            for messageId in dialog.messageIds.reversed() {
                guard let message = t.messages[messageId] else { continue }
                if message.createdAt < member.joinedAt { break }
                guard message.counts(for: member), !message.readBy.contains(userId) else { continue }
                let type = t.userType(message.senderId)
                if let index = bySenderType.firstIndex(where: { $0.0 == type }) {
                    bySenderType[index].1 += 1
                } else {
                    bySenderType.append((type, 1))
                }
            }
        }
        return .obj([
            "dialogCount": .int(dialogCount), "unreadDialogsCount": .int(unreadDialogs),
            "totalMessagesCount": .int(totalMessages), "totalUnreadCount": .int(totalUnread),
            "unreadBySenderType": .array(bySenderType.map { .obj(["fromType": .string($0.0), "countUnread": .int($0.1)]) }),
            "packs.messages.totalUnreadCount": 0, "packs.messages.unreadBySenderType": .array([]),
            "statsVersion": .int(statsVersion), "lastUpdatedAt": clock.now().json,
        ])
    }

    func userSection(_ t: TenantRecord, _ user: UserRecord) -> SimJSON {
        .obj(["userId": .string(user.userId), "type": .string(user.type), "meta": t.metaJSON("user", user.userId)])
    }

    func emitUserEvent(_ type: SimEventType, _ t: TenantRecord, _ user: UserRecord, updatedFields: [String]) {
        let section = userSection(t, user)
        emit(SimEvent(type, entityId: user.userId, subjectUserId: user.userId, updatedFields: updatedFields),
             in: t, to: [user.userId]) { _ in [.init("user", section)] }
    }

    func createUser(_ t: TenantRecord, _ body: JSONValue?) throws(SimError) -> Reply {
        let object = try Self.object(body)
        var details: [SimError.Detail] = []
        if let problem = Self.userIDField(object["userId"]) { details.append(problem) }
        let type = object["type"]
        if let type, type.stringValue == nil {
            details.append(.init(field: "type", message: "\"type\" must be a string", value: SimJSON(type)))
        }
        guard details.isEmpty, let userId = object["userId"]?.stringValue?.lowercased() else {
            throw .validation(details)
        }
        guard t.users[userId] == nil else { throw .conflict("User already exists") }
        statsVersion += 1
        let (user, _) = ensureUser(t, userId, type: type?.stringValue, now: clock.now())
        emitUserEvent(.userAdd, t, user, updatedFields: ["user"])
        return (201, .obj(["data": userJSON(t, user, detailed: false)]))
    }

    func listUsers(_ t: TenantRecord, _ query: SimQuery) throws(SimError) -> Reply {
        let page = try Self.page(query, defaultLimit: 50, maxLimit: 100)
        let filter = try Self.filter(query)
        var users = t.userOrder.compactMap { t.users[$0] }
        if let filter {
            users = users.filter { user in
                filter.matches { field in
                    switch field {
                    case "userId": .scalar(.string(user.userId))
                    case "type": .scalar(.string(user.type))
                    case "createdAt": .scalar(.number(user.createdAt.millis))
                    default: self.metaField(t, "user", user.userId, field)
                    }
                }
            }
        }
        if let sort = query["sort"].flatMap(SimSort.parse) {
            users.sort { a, b in
                let ordered: Bool
                switch sort.field {
                case "createdAt": ordered = a.createdAt < b.createdAt
                case "type": ordered = a.type < b.type
                default: ordered = a.userId < b.userId
                }
                return sort.ascending ? ordered : !ordered
            }
        }
        let items = page.slice(users).map { userJSON(t, $0, detailed: true) }
        return (200, .obj(["data": .array(items), "pagination": page.json(total: users.count)]))
    }

    func getUser(_ t: TenantRecord, _ userId: String) throws(SimError) -> Reply {
        guard let user = t.user(userId) else { throw .notFound("User not found") }
        return (200, .obj(["data": userJSON(t, user, detailed: true)]))
    }

    func updateUser(_ t: TenantRecord, _ userId: String, _ body: JSONValue?) throws(SimError) -> Reply {
        let object = try Self.object(body)
        if let type = object["type"], type.stringValue == nil {
            throw .validation([.init(field: "type", message: "\"type\" must be a string", value: SimJSON(type))])
        }
        guard let user = t.user(userId) else { throw .notFound("User not found") }
        if let type = object["type"]?.stringValue { user.type = type }
        statsVersion += 1
        emitUserEvent(.userChanged, t, user, updatedFields: ["user.type"])
        return (200, .obj(["data": userJSON(t, user, detailed: false), "message": "User updated successfully"]))
    }

    func deleteUser(_ t: TenantRecord, _ userId: String) throws(SimError) -> Reply {
        guard let user = t.user(userId) else { throw .notFound("User not found") }
        // The Update is rendered before the document goes, so the routing key still has the user's type.
        emitUserEvent(.userRemove, t, user, updatedFields: ["user"])
        t.users.removeValue(forKey: user.userId)
        t.userOrder.removeAll { $0 == user.userId }
        return (204, nil)
    }

    /// `meta.<key>` filter fields.
    func metaField(_ t: TenantRecord, _ entityType: String, _ entityId: String, _ field: String) -> FilterField {
        guard field.hasPrefix("meta.") else { return .missing }
        let key = String(field.dropFirst(5))
        guard let entry = t.meta[TenantRecord.metaKey(entityType, entityId)]?[key] else { return .missing }
        return Self.filterField(entry.value)
    }

    static func filterField(_ value: JSONValue) -> FilterField {
        switch value {
        case .null: .scalar(.null)
        case .bool(let flag): .scalar(.bool(flag))
        case .number(let number): .scalar(.number(number))
        case .string(let text): .scalar(.string(text))
        case .array(let items): .list(items.compactMap {
            switch $0 {
            case .string(let text): .string(text)
            case .number(let number): .number(number)
            case .bool(let flag): .bool(flag)
            default: nil
            }
        })
        case .object: .missing
        }
    }
}
