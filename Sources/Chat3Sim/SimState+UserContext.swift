import ChatCore

extension SimState {
    func userDialogs(_ t: TenantRecord, _ userId: String, _ query: SimQuery) throws(SimError) -> Reply {
        try Self.requireUserID(userId)
        let page = try Self.page(query, defaultLimit: 10, maxLimit: 100)
        let filter = try Self.filter(query)
        var sort = SimSort(field: "lastInteractionAt", ascending: false)
        if let raw = query["sort"] {
            guard let parsed = SimSort.parse(raw),
                  ["lastInteractionAt", "lastSeenAt", "unreadCount", "lastMessageAt", "createdAt"].contains(parsed.field)
            else {
                throw .validation([.init(field: "sort", message: "\"sort\" must be (lastInteractionAt|lastSeenAt|unreadCount,asc|desc)",
                                         value: .string(raw))])
            }
            sort = parsed
        }
        let unreadCondition = try Self.comparison(query["unreadCount"], field: "unreadCount")
        let lastSeenCondition = try Self.comparison(query["lastSeenAt"], field: "lastSeenAt")

        var rows: [(DialogRecord, MemberRecord)] = []
        for dialogId in t.memberships[userId] ?? [] {
            guard let dialog = t.dialogs[dialogId], let member = dialog.members[userId] else { continue }
            if let unreadCondition, !unreadCondition(Double(member.unreadCount)) { continue }
            if let lastSeenCondition, !lastSeenCondition(member.lastSeenAt?.millis ?? 0) { continue }
            if let filter, !filter.matches({ field in
                switch field {
                case "unreadCount": .scalar(.number(Double(member.unreadCount)))
                case "lastSeenAt": member.lastSeenAt.map { .scalar(.number($0.millis)) } ?? .missing
                case "lastMessageAt": member.lastMessageAt.map { .scalar(.number($0.millis)) } ?? .missing
                case "lastInteractionAt": .scalar(.number(member.lastInteractionAt.millis))
                default: self.dialogField(t, dialog, field)
                }
            }) { continue }
            rows.append((dialog, member))
        }
        rows.sort { a, b in
            let ordered: Bool
            switch sort.field {
            case "unreadCount": ordered = a.1.unreadCount < b.1.unreadCount
            case "lastSeenAt": ordered = (a.1.lastSeenAt?.micros ?? 0) < (b.1.lastSeenAt?.micros ?? 0)
            case "lastMessageAt": ordered = (a.1.lastMessageAt?.micros ?? 0) < (b.1.lastMessageAt?.micros ?? 0)
            case "createdAt": ordered = a.0.createdAt < b.0.createdAt
            default: ordered = a.1.lastInteractionAt < b.1.lastInteractionAt
            }
            return sort.ascending ? ordered : !ordered
        }
        let items = page.slice(rows).map { dialog, member in userDialogJSON(t, dialog, member) }
        return (200, .obj(["data": .array(items), "pagination": page.json(total: rows.count)]))
    }

    func userDialogJSON(_ t: TenantRecord, _ dialog: DialogRecord, _ member: MemberRecord) -> SimJSON {
        var lastMessage = SimJSON.null
        if let lastId = dialog.messageIds.last, let last = t.messages[lastId] {
            lastMessage = .obj([
                "messageId": .string(last.messageId), "content": .string(last.content),
                "senderId": .string(last.senderId), "type": .string(last.type), "createdAt": last.createdAt.json,
                "senderInfo": .obj(["userId": .string(last.senderId), "meta": t.metaJSON("user", last.senderId.lowercased())]),
            ])
        }
        return .obj([
            "dialogId": .string(dialog.dialogId),
            "context": .obj([
                "userId": .string(member.userId), "unreadCount": .int(member.unreadCount),
                "lastSeenAt": member.lastSeenAt?.json ?? .null, "lastMessageAt": member.lastMessageAt?.json ?? .null,
                "joinedAt": member.joinedAt.json,
            ]),
            "membersCount": .int(dialog.memberOrder.count), "lastInteractionAt": member.lastInteractionAt.json,
            "meta": t.metaJSON("dialog", dialog.dialogId),
            "stats": .obj(["topicCount": 0, "memberCount": .int(dialog.memberOrder.count),
                           "messageCount": .int(dialog.messageIds.count)]),
            "lastMessage": lastMessage,
        ])
    }

    /// `N`, `gte:N`, `gt:N`, `lte:N`, `lt:N` query conditions.
    static func comparison(_ raw: String?, field: String) throws(SimError) -> ((Double) -> Bool)? {
        guard let raw, !raw.isEmpty else { return nil }
        let parts = raw.split(separator: ":", maxSplits: 1)
        let op = parts.count == 2 ? String(parts[0]) : "eq"
        guard let value = Double(parts.count == 2 ? String(parts[1]) : raw) else {
            throw .validation([.init(field: field, message: "\"\(field)\" must be N or op:N", value: .string(raw))])
        }
        switch op {
        case "eq": return { $0 == value }
        case "gt": return { $0 > value }
        case "gte": return { $0 >= value }
        case "lt": return { $0 < value }
        case "lte": return { $0 <= value }
        default: throw .validation([.init(field: field, message: "\"\(field)\" must be N or op:N", value: .string(raw))])
        }
    }

    /// The dialog and membership behind a user-context route: 403 for non-members (and unknown dialogs).
    func membership(_ t: TenantRecord, _ userId: String, _ dialogId: String) throws(SimError)
        -> (DialogRecord, MemberRecord)
    {
        try Self.requireUserID(userId)
        try Self.requireDialogID(dialogId)
        guard let dialog = t.dialogs[dialogId], let member = dialog.members[userId] else {
            throw .forbidden("User is not a member of this dialog")
        }
        return (dialog, member)
    }

    func messageInDialog(_ t: TenantRecord, _ dialog: DialogRecord, _ messageId: String) throws(SimError)
        -> MessageRecord
    {
        try Self.requireMessageID(messageId)
        guard let message = t.messages[messageId], message.dialogId == dialog.dialogId else {
            throw .notFound("Message not found")
        }
        return message
    }

    func userMessageJSON(_ t: TenantRecord, _ message: MessageRecord, userId: String) -> SimJSON {
        let userInfo: SimJSON = t.user(userId).map {
            .obj(["userId": .string($0.userId), "createdAt": $0.createdAt.json, "meta": t.metaJSON("user", $0.userId)])
        } ?? .null
        return messageJSON(t, message, enriched: true, me: userId).setting("context", .obj([
            "userId": .string(userId), "isMine": .bool(message.senderId == userId), "userInfo": userInfo,
        ]))
    }

    func userMessages(_ t: TenantRecord, _ userId: String, _ dialogId: String, _ query: SimQuery) throws(SimError)
        -> Reply
    {
        let (dialog, _) = try membership(t, userId, dialogId)
        if let filter = try Self.filter(query), filter.fields.contains("topicId") {
            throw .badRequest("Use topic.topicId to filter by topic")
        }
        let page = try Self.page(query, defaultLimit: 50, maxLimit: nil)
        let messages = try selectMessages(t, dialog, query)
        let items = page.slice(messages).map { userMessageJSON(t, $0, userId: userId) }
        return (200, .obj(["data": .array(items), "pagination": page.json(total: messages.count)]))
    }

    func userMessage(_ t: TenantRecord, _ userId: String, _ dialogId: String, _ messageId: String) throws(SimError)
        -> Reply
    {
        let (dialog, _) = try membership(t, userId, dialogId)
        let message = try messageInDialog(t, dialog, messageId)
        return (200, .obj(["data": userMessageJSON(t, message, userId: userId)]))
    }

    func statusRecordJSON(_ t: TenantRecord, _ message: MessageRecord, _ status: StatusRecord, withDialog: Bool)
        -> SimJSON
    {
        .obj([
            "_id": .string(status.objectId), "messageId": .string(message.messageId), "userId": .string(status.userId),
            "userType": .opt(status.userType), "tenantId": .string(t.tenantId),
            "dialogId": withDialog ? .string(message.dialogId) : .null, "status": .string(status.status),
            "createdAt": .double(status.createdAt.millis), "__v": withDialog ? 0 : .null,
        ])
    }

    func setStatus(_ t: TenantRecord, _ userId: String, _ dialogId: String, _ messageId: String, _ status: String)
        throws(SimError) -> Reply
    {
        try Self.requireUserID(userId)
        try Self.requireDialogID(dialogId)
        try Self.requireMessageID(messageId)
        guard SimID.isStatus(status) else {
            throw .invalidParameter(field: "status", received: status, example: "read")
        }
        guard let dialog = t.dialogs[dialogId] else { throw .notFound("Dialog not found") }
        guard let member = dialog.members[userId] else { throw .forbidden("User is not a member of this dialog") }
        let message = try messageInDialog(t, dialog, messageId)
        let now = clock.now()
        let normalized = status.lowercased()
        let previous = message.latestStatus(of: userId.lowercased())
        let record = StatusRecord(objectId: SimID.objectID(), userId: userId.lowercased(),
                                  userType: t.user(userId)?.type, status: normalized, createdAt: now)
        message.statuses.append(record)
        if normalized == "read", !message.readBy.contains(userId) {
            message.readBy.insert(userId)
            if message.counts(for: member) { member.unreadCount = max(0, member.unreadCount - 1) }
            member.lastSeenAt = now
        }
        statsVersion += 1
        let update = SimJSON.obj(["userId": .string(record.userId), "status": .string(normalized),
                                  "oldStatus": .opt(previous?.status)])
        emitMessageEvent(.messageStatusChanged, t, message, updatedFields: ["message.status"],
                         section: messageSection(t, message, extra: [.init("statusUpdate", update),
                                                                     .init("statusMessageMatrix", statusMatrix(message))]))
        return (200, .obj(["data": statusRecordJSON(t, message, record, withDialog: true),
                           "message": "Message status updated successfully"]))
    }

    func statuses(_ t: TenantRecord, _ userId: String, _ dialogId: String, _ messageId: String, _ query: SimQuery)
        throws(SimError) -> Reply
    {
        let (dialog, _) = try membership(t, userId, dialogId)
        let message = try messageInDialog(t, dialog, messageId)
        let page = try Self.page(query, defaultLimit: 50, maxLimit: nil)
        let records = Array(message.statuses.reversed())
        let items = page.slice(records).map { statusRecordJSON(t, message, $0, withDialog: false) }
        return (200, .obj(["data": .array(items), "pagination": page.json(total: records.count)]))
    }

    func reactionJSON(_ t: TenantRecord, _ message: MessageRecord, _ reaction: ReactionRecord) -> SimJSON {
        .obj(["_id": .string(reaction.objectId), "tenantId": .string(t.tenantId), "messageId": .string(message.messageId),
              "userId": .string(reaction.userId), "reaction": .string(reaction.reaction),
              "createdAt": .double(reaction.createdAt.millis)])
    }

    func reactions(_ t: TenantRecord, _ userId: String, _ dialogId: String, _ messageId: String, _ query: SimQuery)
        throws(SimError) -> Reply
    {
        let (dialog, _) = try membership(t, userId, dialogId)
        let message = try messageInDialog(t, dialog, messageId)
        let wanted = query["reaction"]
        let items = message.reactions.filter { $0.userId == userId && (wanted == nil || $0.reaction == wanted) }
            .map { reactionJSON(t, message, $0) }
        return (200, .obj(["data": .obj(["reactions": .array(items)]), "message": "Reactions retrieved successfully"]))
    }

    func reactionAction(_ t: TenantRecord, _ userId: String, _ dialogId: String, _ messageId: String, _ action: String,
                        _ body: JSONValue?) throws(SimError) -> Reply
    {
        guard action == "set" || action == "unset" else {
            throw .badRequest("Action must be either \"set\" or \"unset\"")
        }
        let object = try Self.object(body)
        guard let reaction = object["reaction"]?.stringValue, (1...50).contains(reaction.count) else {
            throw .validation([.init(field: "reaction", message: object["reaction"] == nil ? "\"reaction\" is required"
                                         : "\"reaction\" must be a string of 1 to 50 characters",
                                     value: object["reaction"].map(SimJSON.init) ?? .null)])
        }
        let (dialog, _) = try membership(t, userId, dialogId)
        let message = try messageInDialog(t, dialog, messageId)
        let existing = message.reactions.firstIndex { $0.userId == userId && $0.reaction == reaction }
        let reply: Reply
        var reactionUpdate: [SimJSON.Field] = [.init("userId", .string(userId))]
        if action == "set" {
            if let existing {
                return (200, .obj(["data": reactionJSON(t, message, message.reactions[existing]),
                                   "message": "Reaction already exists"]))
            }
            let record = ReactionRecord(objectId: SimID.objectID(), userId: userId, reaction: reaction,
                                        createdAt: clock.now())
            message.reactions.append(record)
            reactionUpdate.append(.init("reaction", .string(reaction)))
            reply = (201, .obj(["data": .obj(["reaction": reactionJSON(t, message, record)]),
                                "message": "Reaction set successfully"]))
        } else {
            guard let existing else { throw .notFound("Reaction not found") }
            message.reactions.remove(at: existing)
            reactionUpdate.append(.init("oldReaction", .string(reaction)))
            reply = (200, .obj(["data": .object([]), "message": "Reaction unset successfully"]))
        }
        reactionUpdate.append(.init("reactionSet", reactionSet(message, me: userId)))
        emitMessageEvent(.messageReactionChanged, t, message, updatedFields: ["message.reactions"],
                         section: messageSection(t, message, extra: [.init("reactionUpdate", .object(reactionUpdate))],
                                                 emptyMeta: true))
        return reply
    }

    func markAllRead(_ t: TenantRecord, _ userId: String, _ dialogId: String) throws(SimError) -> Reply {
        try Self.requireUserID(userId)
        let dialog = try dialog(t, dialogId)
        guard let member = dialog.members[userId] else { throw .forbidden("User is not a member of this dialog") }
        let processed = markRead(t, dialog, member, now: clock.now())
        statsVersion += 1
        emitMemberEvent(.memberChanged, t, dialog, member, to: [userId],
                        updatedFields: ["member.state.unreadCount", "member.state.lastSeenAt"])
        return (200, .obj(["data": memberStateJSON(t, dialogId, member,
                                                   extra: [.init("processedMessageCount", .int(processed))]),
                           "message": "All messages marked as read"]))
    }
}
