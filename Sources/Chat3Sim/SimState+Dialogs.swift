import ChatCore

extension SimState {
    func dialogJSON(_ t: TenantRecord, _ dialog: DialogRecord, listItem: Bool = false) -> SimJSON {
        let memberCount = SimJSON.int(dialog.memberOrder.count)
        return .obj([
            "dialogId": .string(dialog.dialogId), "tenantId": .string(t.tenantId), "createdAt": dialog.createdAt.json,
            "meta": t.metaJSON("dialog", dialog.dialogId),
            "stats": .obj(["topicCount": 0, "memberCount": memberCount, "messageCount": .int(dialog.messageIds.count)]),
            "memberCount": listItem ? memberCount : .null,
        ])
    }

    func createDialog(_ t: TenantRecord, _ body: JSONValue?) throws(SimError) -> Reply {
        let object = try Self.object(body)
        var details: [SimError.Detail] = []
        var members: [(userId: String, type: String?)] = []
        if let raw = object["members"] {
            if let list = raw.arrayValue {
                for (index, item) in list.enumerated() {
                    guard let entry = item.objectValue else {
                        details.append(.init(field: "members[\(index)]", message: "\"members[\(index)]\" must be of type object",
                                             value: SimJSON(item)))
                        continue
                    }
                    if let problem = Self.userIDField(entry["userId"], field: "members[\(index)].userId") {
                        details.append(problem)
                    } else if !members.contains(where: { $0.userId == entry["userId"]!.stringValue! }) {
                        members.append((entry["userId"]!.stringValue!, entry["type"]?.stringValue))
                    }
                }
            } else {
                details.append(.init(field: "members", message: "\"members\" must be an array", value: SimJSON(raw)))
            }
        }
        var meta: [String: JSONValue] = [:]
        if let raw = object["meta"] {
            if let map = raw.objectValue { meta = map } else {
                details.append(.init(field: "meta", message: "\"meta\" must be of type object", value: SimJSON(raw)))
            }
        }
        guard details.isEmpty else { throw .validation(details) }

        let now = clock.now()
        let dialog = DialogRecord(dialogId: SimID.dialog(), createdAt: now)
        t.dialogs[dialog.dialogId] = dialog
        t.dialogOrder.append(dialog.dialogId)
        for (key, raw) in meta {
            let write = Self.metaWrite(raw)
            setMeta(t, "dialog", dialog.dialogId, key: key, value: write.value, dataType: write.dataType, now: now)
        }
        for member in members {
            ensureUser(t, member.userId, type: member.type, now: now)
            join(t, dialog, member.userId, now: now)
        }
        statsVersion += 1
        // Chat3 writes one dialog.member.add event per member, then dialog.create; the worker resolves
        // recipients later, so every member already sees every add.
        for userId in dialog.memberOrder {
            emitMemberEvent(.memberAdd, t, dialog, dialog.members[userId]!, to: dialog.memberOrder,
                            updatedFields: ["member"])
        }
        emit(SimEvent(.dialogCreate, entityId: dialog.dialogId, dialogId: dialog.dialogId, updatedFields: ["dialog"]),
             in: t, to: dialog.memberOrder) { recipient in
            [.init("dialog", self.dialogSection(t, dialog, for: recipient))]
        }
        return (201, .obj(["data": dialogJSON(t, dialog), "message": "Dialog created successfully"]))
    }

    @discardableResult
    func join(_ t: TenantRecord, _ dialog: DialogRecord, _ userId: String, now: SimTime) -> MemberRecord {
        let member = MemberRecord(userId: userId, joinedAt: now)
        dialog.members[userId] = member
        dialog.memberOrder.append(userId)
        t.memberships[userId, default: []].append(dialog.dialogId)
        return member
    }

    func listDialogs(_ t: TenantRecord, _ query: SimQuery) throws(SimError) -> Reply {
        let page = try Self.page(query, defaultLimit: 10, maxLimit: 100)
        let filter = try Self.filter(query)
        var sort = query["sort"].flatMap(SimSort.parse)
        if sort == nil, let field = query["sort"], !field.isEmpty {
            sort = SimSort(field: field, ascending: query["sortDirection"]?.lowercased() == "asc")
        }
        // The common case (no filter, natural order) pages the insertion order directly.
        if filter == nil, sort == nil {
            let items = page.slice(t.dialogOrder).compactMap { t.dialogs[$0] }.map { dialogJSON(t, $0, listItem: true) }
            return (200, .obj(["data": .array(items), "pagination": page.json(total: t.dialogOrder.count)]))
        }
        var dialogs = t.dialogOrder.compactMap { t.dialogs[$0] }
        if let filter {
            dialogs = dialogs.filter { dialog in
                filter.matches { field in self.dialogField(t, dialog, field) }
            }
        }
        if let sort {
            dialogs.sort { a, b in
                let ordered: Bool
                switch sort.field {
                case "dialogId": ordered = a.dialogId < b.dialogId
                case "memberCount": ordered = a.memberOrder.count < b.memberOrder.count
                default: ordered = a.createdAt < b.createdAt
                }
                return sort.ascending ? ordered : !ordered
            }
        }
        let items = page.slice(dialogs).map { dialogJSON(t, $0, listItem: true) }
        return (200, .obj(["data": .array(items), "pagination": page.json(total: dialogs.count)]))
    }

    func dialogField(_ t: TenantRecord, _ dialog: DialogRecord, _ field: String) -> FilterField {
        switch field {
        case "dialogId": .scalar(.string(dialog.dialogId))
        case "tenantId": .scalar(.string(t.tenantId))
        case "createdAt": .scalar(.number(dialog.createdAt.millis))
        case "member": .list(dialog.memberOrder.map { .string($0) })
        case "memberCount", "stats.memberCount": .scalar(.number(Double(dialog.memberOrder.count)))
        default: metaField(t, "dialog", dialog.dialogId, field)
        }
    }

    func getDialog(_ t: TenantRecord, _ dialogId: String) throws(SimError) -> Reply {
        let dialog = try dialog(t, dialogId)
        return (200, .obj(["data": dialogJSON(t, dialog)]))
    }

    func deleteDialog(_ t: TenantRecord, _ dialogId: String) throws(SimError) -> Reply {
        let dialog = try dialog(t, dialogId)
        // Members go in the same request as the event, so the worker finds nobody: no Updates. Messages stay.
        for userId in dialog.memberOrder {
            t.memberships[userId]?.removeAll { $0 == dialogId }
            t.meta.removeValue(forKey: TenantRecord.metaKey("dialogMember", "\(dialogId):\(userId)"))
        }
        t.meta.removeValue(forKey: TenantRecord.metaKey("dialog", dialogId))
        t.dialogs.removeValue(forKey: dialogId)
        t.dialogOrder.removeAll { $0 == dialogId }
        statsVersion += 1
        return (200, .obj(["message": "Dialog deleted successfully"]))
    }

    func members(_ t: TenantRecord, _ dialogId: String, _ query: SimQuery) throws(SimError) -> Reply {
        let dialog = try dialog(t, dialogId)
        let page = try Self.page(query, defaultLimit: 10, maxLimit: 100)
        let filter = try Self.filter(query)
        var members = dialog.memberOrder.compactMap { dialog.members[$0] }
        if let filter {
            members = members.filter { member in
                filter.matches { field in
                    switch field {
                    case "userId": .scalar(.string(member.userId))
                    case "type": .scalar(.string(t.userType(member.userId)))
                    default: self.metaField(t, "dialogMember", "\(dialogId):\(member.userId)", field)
                    }
                }
            }
        }
        if let sort = query["sort"].flatMap(SimSort.parse) {
            members.sort { a, b in
                let ordered = sort.field == "userId" ? a.userId < b.userId : a.joinedAt < b.joinedAt
                return sort.ascending ? ordered : !ordered
            }
        }
        let items = page.slice(members).map { member in
            SimJSON.obj(["userId": .string(member.userId), "tenantId": .string(t.tenantId),
                         "dialogId": .string(dialogId), "createdAt": member.joinedAt.json,
                         "meta": t.metaJSON("dialogMember", "\(dialogId):\(member.userId)")])
        }
        return (200, .obj(["data": .array(items), "pagination": page.json(total: members.count)]))
    }

    func addMember(_ t: TenantRecord, _ dialogId: String, _ body: JSONValue?) throws(SimError) -> Reply {
        try Self.requireDialogID(dialogId)
        let object = try Self.object(body)
        if let problem = Self.userIDField(object["userId"]) { throw .validation([problem]) }
        let userId = object["userId"]!.stringValue!
        let dialog = try dialog(t, dialogId)
        let now = clock.now()
        ensureUser(t, userId, type: object["type"]?.stringValue, now: now)
        let data = SimJSON.obj(["userId": .string(userId), "dialogId": .string(dialogId)])
        if dialog.members[userId] != nil {
            return (200, .obj(["data": data, "message": "Member already exists in dialog"]))
        }
        let member = join(t, dialog, userId, now: now)
        statsVersion += 1
        emitMemberEvent(.memberAdd, t, dialog, member, to: dialog.memberOrder, updatedFields: ["member"])
        return (201, .obj(["data": data, "message": "Member added to dialog successfully"]))
    }

    func removeMember(_ t: TenantRecord, _ dialogId: String, _ userId: String) throws(SimError) -> Reply {
        try Self.requireUserID(userId)
        let dialog = try dialog(t, dialogId)
        if let member = dialog.members.removeValue(forKey: userId) {
            dialog.memberOrder.removeAll { $0 == userId }
            t.memberships[userId]?.removeAll { $0 == dialogId }
            statsVersion += 1
            emitMemberEvent(.memberRemove, t, dialog, member, to: dialog.memberOrder + [userId],
                            updatedFields: ["member"])
        }
        return (200, .obj(["message": "Member removed from dialog successfully"]))
    }

    func typing(_ t: TenantRecord, _ dialogId: String, _ userId: String) throws(SimError) -> Reply {
        try Self.requireUserID(userId)
        let dialog = try dialog(t, dialogId)
        guard dialog.members[userId] != nil else { throw .notFound("User is not a member of this dialog") }
        let now = clock.now()
        var userInfo: [SimJSON.Field] = [.init("userId", .string(userId)), .init("tenantId", .string(t.tenantId))]
        if let user = t.user(userId) {
            userInfo += [.init("type", .string(user.type)), .init("createdAt", user.createdAt.json),
                         .init("meta", t.metaJSON("user", user.userId))]
        }
        let typing = SimJSON.obj(["userId": .string(userId), "expiresInMs": 5000,
                                  "timestamp": .int(Int(now.micros / 1000)), "userInfo": .object(userInfo)])
        emit(SimEvent(.typing, entityId: dialogId, dialogId: dialogId, subjectUserId: userId, updatedFields: ["typing"]),
             in: t, to: dialog.memberOrder.filter { $0 != userId }) { recipient in
            [.init("dialog", self.dialogSection(t, dialog, for: recipient)), .init("typing", typing)]
        }
        return (202, .obj(["message": "Typing signal accepted",
                           "data": .obj(["dialogId": .string(dialogId), "userId": .string(userId), "expiresInMs": 5000])]))
    }

    /// Marks up to `limit` of `member`'s unread messages read, oldest first; returns how many.
    func markRead(_ t: TenantRecord, _ dialog: DialogRecord, _ member: MemberRecord, limit: Int? = nil,
                  now: SimTime) -> Int {
        var marked = 0
        let userType = t.user(member.userId)?.type
        for messageId in dialog.messageIds {
            if let limit, marked >= limit { break }
            guard let message = t.messages[messageId], message.counts(for: member),
                  !message.readBy.contains(member.userId) else { continue }
            message.readBy.insert(member.userId)
            message.statuses.append(StatusRecord(objectId: SimID.objectID(), userId: member.userId, userType: userType,
                                                 status: "read", createdAt: now))
            marked += 1
        }
        member.unreadCount = max(0, member.unreadCount - marked)
        member.lastSeenAt = now
        return marked
    }

    func memberStateJSON(_ t: TenantRecord, _ dialogId: String, _ member: MemberRecord,
                         extra: [SimJSON.Field] = []) -> SimJSON {
        .object([
            .init("userId", .string(member.userId)), .init("dialogId", .string(dialogId)),
            .init("tenantId", .string(t.tenantId)), .init("unreadCount", .int(member.unreadCount)),
            .init("lastSeenAt", member.lastSeenAt?.json ?? .null),
            .init("lastMessageAt", member.lastMessageAt?.json ?? .null),
        ] + extra)
    }

    func setUnread(_ t: TenantRecord, _ dialogId: String, _ userId: String, _ body: JSONValue?) throws(SimError)
        -> Reply
    {
        try Self.requireUserID(userId)
        try Self.requireDialogID(dialogId)
        let object = try Self.object(body)
        guard let count = object["unreadCount"]?.intValue, count >= 0 else {
            throw .validation([.init(field: "unreadCount", message: object["unreadCount"] == nil
                                         ? "\"unreadCount\" is required" : "\"unreadCount\" must be a non-negative integer",
                                     value: object["unreadCount"].map(SimJSON.init) ?? .null)])
        }
        let dialog = try dialog(t, dialogId)
        guard let member = dialog.members[userId] else { throw .notFound("Member not found") }
        guard count <= member.unreadCount else {
            throw .badRequest("Unread count cannot be greater than current unread count")
        }
        let now = clock.now()
        _ = markRead(t, dialog, member, limit: member.unreadCount - count, now: now)
        statsVersion += 1
        emitMemberEvent(.memberChanged, t, dialog, member, to: [userId],
                        updatedFields: ["member.state.unreadCount", "member.state.lastSeenAt"])
        return (200, .obj(["data": memberStateJSON(t, dialogId, member),
                           "message": "Unread count updated successfully"]))
    }
}
