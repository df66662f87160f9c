/// The Chat3 events that produce Updates (contract §7.3), with both wire generations' names.
enum SimEventType: String, Sendable {
    case messageCreate = "message.create"
    case messageChanged = "message.changed"
    case messageStatusChanged = "message.status.changed"
    case messageReactionChanged = "message.reaction.changed"
    case dialogCreate = "dialog.create"
    case dialogChanged = "dialog.changed"
    case memberAdd = "dialog.member.add"
    case memberRemove = "dialog.member.remove"
    case memberChanged = "dialog.member.changed"
    case typing = "dialog.typing"
    case userAdd = "user.add"
    case userChanged = "user.changed"
    case userRemove = "user.remove"

    /// The pre-0.0.71 event name, as seed-era consumers switch on it.
    var legacyName: String {
        switch self {
        case .messageChanged: "message.update"
        case .messageStatusChanged: "message.status.update"
        case .messageReactionChanged: "message.reaction.update"
        case .dialogChanged: "dialog.update"
        case .memberChanged: "dialog.member.update"
        case .userChanged: "user.update"
        default: rawValue
        }
    }

    /// `update.message|dialog|user`.
    var updateType: String {
        switch self {
        case .messageCreate, .messageChanged, .messageStatusChanged, .messageReactionChanged: "update.message"
        case .userAdd, .userChanged, .userRemove: "update.user"
        default: "update.dialog"
        }
    }

    /// The `{kind}` of the seed-era routing key `user.{userId}.{kind}update`.
    var legacyKind: String {
        switch self {
        case .messageCreate, .messageChanged, .messageStatusChanged, .messageReactionChanged: "message"
        case .memberAdd, .memberRemove, .memberChanged: "dialogmember"
        case .typing: "typing"
        case .userAdd, .userChanged, .userRemove: "user"
        case .dialogCreate, .dialogChanged: "dialog"
        }
    }

    var uiTarget: String {
        switch self {
        case .messageCreate, .messageChanged, .messageStatusChanged, .messageReactionChanged, .typing: "messages.list"
        case .userAdd, .userChanged, .userRemove: "users.list"
        default: "dialogs.list"
        }
    }
}

/// One event about to fan out into per-recipient Updates.
struct SimEvent {
    var type: SimEventType
    var entityId: String
    var dialogId: String?
    var messageId: String?
    /// The user the event is about (member, typist, user), shown as `context.userId`.
    var subjectUserId: String?
    var updatedFields: [String]
    /// Overrides the generation's `updateType` (counter Updates).
    var updateType: String?

    init(_ type: SimEventType, entityId: String, dialogId: String? = nil, messageId: String? = nil,
         subjectUserId: String? = nil, updatedFields: [String], updateType: String? = nil) {
        self.type = type
        self.entityId = entityId
        self.dialogId = dialogId
        self.messageId = messageId
        self.subjectUserId = subjectUserId
        self.updatedFields = updatedFields
        self.updateType = updateType
    }
}

/// Which Update wire format to publish.
public enum UpdateGeneration: Sendable {
    /// `update.{dialog|user}.{userType}.{userId}.{message|dialog|user}`, body per contract §7.2.
    case current
    /// `user.{userId}.{kind}update`, body `{eventType, dialogId, entityId, userId, data}`.
    case legacy
}

enum SimUpdateBuilder {
    /// Renders one recipient's Update.
    static func build(event: SimEvent, eventId: String, generation: UpdateGeneration, exchange: String,
                      tenantId: String, recipient: String, recipientType: String, sections: [SimJSON.Field],
                      now: SimTime) -> PublishedUpdate {
        let includedSections = SimJSON.array(sections.map { .string($0.key) })
        switch generation {
        case .current:
            let updateType = event.updateType ?? event.type.updateType
            let context = SimJSON.obj([
                "version": 4, "uiTarget": .string(event.type.uiTarget), "dialogId": .opt(event.dialogId),
                "entityId": .string(event.entityId), "messageId": .opt(event.messageId),
                "userId": .opt(event.subjectUserId), "includedSections": includedSections,
                "updatedFields": .array(event.updatedFields.map { .string($0) }),
            ])
            let body = SimJSON.obj([
                "tenantId": .string(tenantId), "userId": .string(recipient), "entityId": .string(event.entityId),
                "eventId": .string(eventId), "sourceEventType": .string(event.type.rawValue),
                "updateType": .string(updateType), "data": .object(sections + [.init("context", context)]),
                "published": false, "createdAt": now.json,
            ])
            let segment = updateType.dropFirst("update.".count)
            let category = updateType == "update.user" ? "user" : "dialog"
            return PublishedUpdate(
                exchange: exchange, routingKey: "update.\(category).\(recipientType).\(recipient).\(segment)",
                headers: ["userId": recipient, "entityId": event.entityId, "updateType": updateType,
                          "sourceEventType": event.type.rawValue],
                body: body.bytes())
        case .legacy:
            let eventType = event.type.legacyName
            let context = SimJSON.obj([
                "eventType": .string(eventType), "dialogId": .opt(event.dialogId), "entityId": .string(event.entityId),
                "messageId": .opt(event.messageId), "includedSections": includedSections,
                "updatedFields": .array(event.updatedFields.map { .string($0) }),
            ])
            let body = SimJSON.obj([
                "tenantId": .string(tenantId), "userId": .string(recipient), "dialogId": .opt(event.dialogId),
                "entityId": .string(event.entityId), "eventId": .string(eventId), "eventType": .string(eventType),
                "data": .object(sections + [.init("context", context)]), "published": false, "createdAt": now.json,
            ])
            return PublishedUpdate(
                exchange: exchange, routingKey: "user.\(recipient).\(event.type.legacyKind)update",
                headers: ["userId": recipient, "entityId": event.entityId, "eventType": eventType],
                body: body.bytes())
        }
    }
}
