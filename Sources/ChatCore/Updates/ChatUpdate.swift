/// One Chat3 update for one user, in the same shape whichever generation of Chat3 published it.
///
/// Seed-era updates (`user.{userId}.{kind}update`) carry `{eventType, dialogId, entityId, userId, data}`;
/// current ones (`update.{category}.{userType}.{userId}.{segment}`) carry `sourceEventType`,
/// `updateType` and `data.context.dialogId`. Clients get `eventType`, `dialogId`, `entityId`, `userId`,
/// `tenantId`, `eventId` and `data` either way, plus the original top-level fields.
public struct ChatUpdate: Sendable, Equatable {
    public enum Generation: String, Sendable { case legacy, current }

    public var generation: Generation
    /// The event name as Chat3 gave it: `message.create`, `message.changed`, `dialog.typing`, ….
    public var eventType: String
    /// `update.message|dialog|user`; derived from the event for seed-era updates.
    public var updateType: String
    public var userId: String
    public var dialogId: String?
    public var entityId: String?
    public var tenantId: String?
    public var eventId: String?
    public var data: JSONValue
    /// Every top-level field of the original payload, so nothing a client relied on is lost.
    public var raw: [String: JSONValue]

    /// What sockets receive as `chat3:update`.
    public var normalizedJSON: JSONValue {
        var object = raw
        object["eventType"] = .string(eventType)
        object["updateType"] = .string(updateType)
        object["userId"] = .string(userId)
        object["dialogId"] = dialogId.map(JSONValue.string) ?? .null
        object["entityId"] = entityId.map(JSONValue.string) ?? .null
        object["tenantId"] = tenantId.map(JSONValue.string) ?? .null
        object["eventId"] = eventId.map(JSONValue.string) ?? .null
        object["data"] = data
        return .object(object)
    }

    /// The key under which a repeat of this update is recognized, when it has an event id.
    public var deduplicationKey: String? {
        guard let eventId else { return nil }
        return "\(eventId)|\(userId)|\(updateType)|\(entityId ?? "")"
    }
}

/// Why a delivery could not be read as an update. Such messages are rejected, never requeued.
public enum UpdateParseError: Error, Equatable, Sendable {
    case notJSONObject
    case missingField(String)
    case unknownRoutingKey(String)
}
