/// Reads a delivery from the `chat3_updates` exchange into a `ChatUpdate`.
public enum UpdateNormalizer {
    public static func normalize(routingKey: String, body: some Collection<UInt8>) -> Result<ChatUpdate, UpdateParseError> {
        guard let value = try? JSONValue.parse(Array(body)), case .object(let object) = value else {
            return .failure(.notJSONObject)
        }
        let keyUser = userID(fromRoutingKey: routingKey)
        if object["sourceEventType"] != nil || object["updateType"] != nil || routingKey.hasPrefix("update.") {
            return current(object, keyUser: keyUser)
        }
        if object["eventType"] != nil || routingKey.hasPrefix("user.") {
            return legacy(object, keyUser: keyUser)
        }
        return .failure(.unknownRoutingKey(routingKey))
    }

    /// `update.{category}.{userType}.{userId}.{segment}` or `user.{userId}.{kind}update`.
    static func userID(fromRoutingKey key: String) -> String? {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 5, parts[0] == "update" { return String(parts[3]) }
        if parts.count == 3, parts[0] == "user" { return String(parts[1]) }
        return nil
    }

    static func current(_ object: [String: JSONValue], keyUser: String?) -> Result<ChatUpdate, UpdateParseError> {
        guard let eventType = object["sourceEventType"]?.stringValue ?? object["eventType"]?.stringValue else {
            return .failure(.missingField("sourceEventType"))
        }
        guard let userId = object["userId"]?.stringValue ?? keyUser else { return .failure(.missingField("userId")) }
        let data = object["data"] ?? .object([:])
        let updateType = object["updateType"]?.stringValue ?? defaultUpdateType(eventType)
        let entityId = object["entityId"]?.stringValue
        let dialogId = data["context"]?["dialogId"]?.stringValue
            ?? data["dialog"]?["dialogId"]?.stringValue
            ?? data["message"]?["dialogId"]?.stringValue
            ?? (updateType == "update.dialog" ? entityId : nil)
        return .success(ChatUpdate(
            generation: .current, eventType: eventType, updateType: updateType, userId: userId, dialogId: dialogId,
            entityId: entityId, tenantId: object["tenantId"]?.stringValue, eventId: object["eventId"]?.stringValue,
            data: data, raw: object))
    }

    static func legacy(_ object: [String: JSONValue], keyUser: String?) -> Result<ChatUpdate, UpdateParseError> {
        guard let eventType = object["eventType"]?.stringValue else { return .failure(.missingField("eventType")) }
        guard let userId = object["userId"]?.stringValue ?? keyUser else { return .failure(.missingField("userId")) }
        let data = object["data"] ?? .object([:])
        let dialogId = object["dialogId"]?.stringValue ?? data["context"]?["dialogId"]?.stringValue
            ?? data["dialog"]?["dialogId"]?.stringValue
        return .success(ChatUpdate(
            generation: .legacy, eventType: eventType, updateType: defaultUpdateType(eventType), userId: userId,
            dialogId: dialogId, entityId: object["entityId"]?.stringValue, tenantId: object["tenantId"]?.stringValue,
            eventId: object["eventId"]?.stringValue, data: data, raw: object))
    }

    static func defaultUpdateType(_ eventType: String) -> String {
        if eventType.hasPrefix("message.") { return "update.message" }
        if eventType.hasPrefix("user.") { return "update.user" }
        return "update.dialog"
    }
}
