import ChatCore

extension SimState {
    static let plainTypes: Set<String> = [
        "internal.text", "internal.image", "internal.file", "internal.audio", "internal.video", "internal.sticker",
        "internal.location", "internal.contact",
    ]
    static let mediaTypes: Set<String> = ["internal.image", "internal.file", "internal.audio", "internal.video"]

    static func isAllowedType(_ type: String) -> Bool {
        plainTypes.contains(type) || ["system.", "user.", "message."].contains { type.hasPrefix($0) && type.count > $0.count }
    }

    func senderInfo(_ t: TenantRecord, _ userId: String) -> SimJSON {
        guard let user = t.user(userId) else { return .null }
        return .obj(["userId": .string(user.userId), "createdAt": user.createdAt.json,
                     "meta": t.metaJSON("user", user.userId)])
    }

    /// Latest status per recipient (the sender excluded), counted per `(userType, status)`.
    func statusMatrix(_ message: MessageRecord) -> SimJSON {
        var latest: [String: StatusRecord] = [:]
        var order: [String] = []
        for status in message.statuses where status.userId != message.senderId {
            if latest[status.userId] == nil { order.append(status.userId) }
            latest[status.userId] = status
        }
        var counts: [(userType: String?, status: String, count: Int)] = []
        for userId in order {
            let status = latest[userId]!
            if let index = counts.firstIndex(where: { $0.userType == status.userType && $0.status == status.status }) {
                counts[index].count += 1
            } else {
                counts.append((status.userType, status.status, 1))
            }
        }
        return .array(counts.map { .obj(["userType": .opt($0.userType), "status": .string($0.status), "count": .int($0.count)]) })
    }

    func reactionSet(_ message: MessageRecord, me: String?) -> SimJSON {
        var order: [String] = []
        var counts: [String: (count: Int, me: Bool)] = [:]
        for reaction in message.reactions {
            if counts[reaction.reaction] == nil { order.append(reaction.reaction) }
            let current = counts[reaction.reaction] ?? (0, false)
            counts[reaction.reaction] = (current.count + 1, current.me || reaction.userId == me)
        }
        return .array(order.map { .obj(["reaction": .string($0), "count": .int(counts[$0]!.count),
                                        "me": .bool(counts[$0]!.me)]) })
    }

    /// The Message shape; `enriched` adds `statusMessageMatrix` and `reactionSet` (all but the create response).
    func messageJSON(_ t: TenantRecord, _ message: MessageRecord, enriched: Bool, me: String? = nil) -> SimJSON {
        var fields: [SimJSON.Field] = [
            .init("messageId", .string(message.messageId)), .init("tenantId", .string(t.tenantId)),
            .init("dialogId", .string(message.dialogId)), .init("senderId", .string(message.senderId)),
            .init("content", .string(message.content)), .init("type", .string(message.type)),
            .init("createdAt", message.createdAt.json), .init("meta", t.metaJSON("message", message.messageId)),
        ]
        if let quotedId = message.quotedMessageId, let quoted = t.messages[quotedId] {
            fields.append(.init("quotedMessage", .obj([
                "messageId": .string(quoted.messageId), "dialogId": .string(quoted.dialogId),
                "senderId": .string(quoted.senderId), "content": .string(quoted.content), "type": .string(quoted.type),
                "createdAt": quoted.createdAt.json, "meta": t.metaJSON("message", quoted.messageId),
                "senderInfo": senderInfo(t, quoted.senderId),
            ])))
        }
        fields.append(.init("senderInfo", senderInfo(t, message.senderId)))
        if enriched {
            fields.append(.init("statusMessageMatrix", statusMatrix(message)))
            fields.append(.init("reactionSet", reactionSet(message, me: me)))
        }
        return .object(fields)
    }

    /// `data.message` of Updates: no `createdAt` (current generation); seed-era consumers got the document.
    func messageSection(_ t: TenantRecord, _ message: MessageRecord, extra: [SimJSON.Field] = [],
                        emptyMeta: Bool = false) -> SimJSON {
        if generation == .legacy {
            guard case .object(let fields) = messageJSON(t, message, enriched: false) else { return .null }
            return .object(fields + extra)
        }
        return .object([
            .init("messageId", .string(message.messageId)), .init("dialogId", .string(message.dialogId)),
            .init("senderId", .string(message.senderId)), .init("type", .string(message.type)),
            .init("content", .string(String(message.content.prefix(4096)))),
            .init("meta", emptyMeta ? .object([]) : t.metaJSON("message", message.messageId)),
            .init("senderInfo", senderInfo(t, message.senderId)),
        ] + extra)
    }

    func emitMessageEvent(_ type: SimEventType, _ t: TenantRecord, _ message: MessageRecord, updatedFields: [String],
                          eventId: String = SimID.event(), section: SimJSON) {
        guard let dialog = t.dialogs[message.dialogId] else { return }
        emit(SimEvent(type, entityId: message.messageId, dialogId: dialog.dialogId, messageId: message.messageId,
                      updatedFields: updatedFields), in: t, to: dialog.memberOrder, eventId: eventId) { recipient in
            [.init("dialog", self.dialogSection(t, dialog, for: recipient)), .init("message", section)]
        }
    }

    func createMessage(_ t: TenantRecord, _ dialogId: String, _ body: JSONValue?) throws(SimError) -> Reply {
        try Self.requireDialogID(dialogId)
        let object = try Self.object(body)
        var details: [SimError.Detail] = []
        if let problem = Self.userIDField(object["senderId"], field: "senderId") { details.append(problem) }
        var type = "internal.text"
        if let raw = object["type"] {
            if let text = raw.stringValue, Self.isAllowedType(text.lowercased()) { type = text.lowercased() } else {
                details.append(.init(field: "type", message: "\"type\" must be a valid message type", value: SimJSON(raw)))
            }
        }
        var content = ""
        switch object["content"] {
        case .string(let text)?:
            content = text
            if text.count > 10_000 {
                details.append(.init(field: "content", message: "\"content\" length must be less than or equal to 10000 characters long",
                                     value: .string(text)))
            } else if text.isEmpty, type == "internal.text" {
                details.append(.init(field: "content", message: "\"content\" is not allowed to be empty", value: ""))
            }
        case nil, .null?:
            if type == "internal.text" {
                details.append(.init(field: "content", message: "\"content\" is required", value: .null))
            }
        case let other?:
            details.append(.init(field: "content", message: "\"content\" must be a string", value: SimJSON(other)))
        }
        var meta: [String: JSONValue] = [:]
        if let raw = object["meta"] {
            if let map = raw.objectValue { meta = map } else {
                details.append(.init(field: "meta", message: "\"meta\" must be of type object", value: SimJSON(raw)))
            }
        }
        if Self.mediaTypes.contains(type) {
            let url = meta["url"].map { Self.metaWrite($0).value.stringValue ?? "" } ?? ""
            if url.isEmpty || url.count > 2048 {
                details.append(.init(field: "meta.url", message: "\"meta.url\" is required for media messages",
                                     value: .opt(url.isEmpty ? nil : url)))
            }
        }
        let quotedId = object["quotedMessageId"]?.stringValue
        if let raw = object["quotedMessageId"], raw != .null, !(quotedId.map(SimID.isMessageID) ?? false) {
            details.append(.init(field: "quotedMessageId", message: "\"quotedMessageId\" must be a valid message id",
                                 value: SimJSON(raw)))
        }
        let topicId = object["topicId"]?.stringValue
        if let raw = object["topicId"], raw != .null, !(topicId.map(SimID.isTopicID) ?? false) {
            details.append(.init(field: "topicId", message: "\"topicId\" must be a valid topic id", value: SimJSON(raw)))
        }
        guard details.isEmpty, let senderId = object["senderId"]?.stringValue else { throw .validation(details) }
        let dialog = try dialog(t, dialogId)
        // The emulator has no topics, so any topic id is unknown.
        if topicId != nil { throw .noTopic }
        if let quotedId, t.messages[quotedId] == nil { throw .notFound("Quoted message not found") }

        let now = clock.now()
        let message = MessageRecord(messageId: SimID.message(), dialogId: dialogId, senderId: senderId,
                                    content: content, type: type, createdAt: now, quotedMessageId: quotedId)
        t.messages[message.messageId] = message
        t.messageOrder.append(message.messageId)
        dialog.messageIds.append(message.messageId)
        for (key, raw) in meta {
            let write = Self.metaWrite(raw)
            setMeta(t, "message", message.messageId, key: key, value: write.value, dataType: write.dataType, now: now)
        }
        for userId in dialog.memberOrder {
            let member = dialog.members[userId]!
            member.lastMessageAt = now
            guard userId != senderId, !message.isSystem else { continue }
            message.statuses.append(StatusRecord(objectId: SimID.objectID(), userId: userId,
                                                 userType: t.user(userId)?.type, status: "unread", createdAt: now))
            member.unreadCount += 1
        }
        statsVersion += 1
        let eventId = SimID.event()
        emitMessageEvent(.messageCreate, t, message, updatedFields: ["message"], eventId: eventId,
                         section: messageSection(t, message))
        emitCounters(t, dialog, sourceEvent: .messageCreate, eventId: eventId,
                     dialogRecipients: dialog.memberOrder.filter { $0 != senderId },
                     userRecipients: dialog.memberOrder.contains(senderId) ? dialog.memberOrder
                         : dialog.memberOrder + [senderId])
        return (201, .obj(["data": messageJSON(t, message, enriched: false), "message": "Message created successfully"]))
    }

    func dialogMessages(_ t: TenantRecord, _ dialogId: String, _ query: SimQuery) throws(SimError) -> Reply {
        let dialog = try dialog(t, dialogId)
        let page = try Self.page(query, defaultLimit: 10, maxLimit: 100)
        let messages = try selectMessages(t, dialog, query)
        let items = page.slice(messages).map { messageJSON(t, $0, enriched: true) }
        return (200, .obj(["data": .array(items), "pagination": page.json(total: messages.count)]))
    }

    /// Filter and sort (default newest first) of a dialog's messages.
    func selectMessages(_ t: TenantRecord, _ dialog: DialogRecord, _ query: SimQuery) throws(SimError) -> [MessageRecord] {
        let filter = try Self.filter(query)
        var sort = SimSort(field: "createdAt", ascending: false)
        if let raw = query["sort"] {
            guard let parsed = SimSort.parse(raw), ["createdAt", "senderId"].contains(parsed.field) else {
                throw .validation([.init(field: "sort", message: "\"sort\" must be (createdAt|senderId,asc|desc)",
                                         value: .string(raw))])
            }
            sort = parsed
        }
        var messages: [MessageRecord] = []
        messages.reserveCapacity(dialog.messageIds.count)
        for messageId in dialog.messageIds {
            guard let message = t.messages[messageId] else { continue }
            if let filter, !filter.matches({ self.messageField(t, message, $0) }) { continue }
            messages.append(message)
        }
        if sort.field == "senderId" {
            messages.sort { sort.ascending ? $0.senderId < $1.senderId : $0.senderId > $1.senderId }
        } else if !sort.ascending {
            messages.reverse()
        }
        return messages
    }

    func messageField(_ t: TenantRecord, _ message: MessageRecord, _ field: String) -> FilterField {
        switch field {
        case "messageId": .scalar(.string(message.messageId))
        case "dialogId": .scalar(.string(message.dialogId))
        case "senderId": .scalar(.string(message.senderId))
        case "type": .scalar(.string(message.type))
        case "content": .scalar(.string(message.content))
        case "createdAt": .scalar(.number(message.createdAt.millis))
        case "quotedMessageId": message.quotedMessageId.map { .scalar(.string($0)) } ?? .missing
        default: metaField(t, "message", message.messageId, field)
        }
    }

    func listMessages(_ t: TenantRecord, _ query: SimQuery) throws(SimError) -> Reply {
        let page = try Self.page(query, defaultLimit: 10, maxLimit: 100)
        let filter = try Self.filter(query)
        var messages = t.messageOrder.reversed().compactMap { t.messages[$0] }
        if let filter { messages = messages.filter { message in filter.matches { self.messageField(t, message, $0) } } }
        if let sort = query["sort"].flatMap(SimSort.parse), sort.ascending, sort.field == "createdAt" {
            messages.reverse()
        }
        let items = page.slice(messages).map { message in
            SimJSON.obj(["messageId": .string(message.messageId), "dialogId": .string(message.dialogId),
                         "senderId": .string(message.senderId), "content": .string(message.content),
                         "type": .string(message.type), "createdAt": message.createdAt.json,
                         "senderInfo": senderInfo(t, message.senderId)])
        }
        return (200, .obj(["data": .array(items), "pagination": page.json(total: messages.count)]))
    }

    func message(_ t: TenantRecord, _ messageId: String) throws(SimError) -> MessageRecord {
        try Self.requireMessageID(messageId)
        guard let message = t.messages[messageId] else { throw .notFound("Message not found") }
        return message
    }

    func getMessage(_ t: TenantRecord, _ messageId: String) throws(SimError) -> Reply {
        let message = try message(t, messageId)
        return (200, .obj(["data": messageJSON(t, message, enriched: true)]))
    }

    func updateMessage(_ t: TenantRecord, _ messageId: String, _ body: JSONValue?) throws(SimError) -> Reply {
        try Self.requireMessageID(messageId)
        let object = try Self.object(body)
        guard let content = object["content"]?.stringValue, !content.isEmpty, content.count <= 10_000 else {
            throw .validation([.init(field: "content", message: object["content"] == nil ? "\"content\" is required"
                                         : "\"content\" must be a string of 1 to 10000 characters",
                                     value: object["content"].map(SimJSON.init) ?? .null)])
        }
        let message = try message(t, messageId)
        let now = clock.now()
        message.content = content
        setMeta(t, "message", messageId, key: "editedAt", value: .number(now.millis.rounded()), dataType: "number",
                now: now)
        emitMessageEvent(.messageChanged, t, message, updatedFields: ["message.content"],
                         section: messageSection(t, message))
        return (200, .obj(["data": messageJSON(t, message, enriched: true), "message": "Message updated successfully"]))
    }
}
