/// The Socket.IO events one update becomes, in order: always `chat3:update`, then the specific one.
public enum UpdateEvents {
    public struct Emission: Sendable, Equatable {
        public let event: String
        public let payload: JSONValue

        public init(event: String, payload: JSONValue) {
            self.event = event
            self.payload = payload
        }
    }

    public static func emissions(for update: ChatUpdate) -> [Emission] {
        var result = [Emission(event: "chat3:update", payload: update.normalizedJSON)]
        let type = update.eventType
        if type == "message.create" {
            result.append(Emission(event: "message:new", payload: update.data["message"] ?? update.normalizedJSON))
        } else if type.hasPrefix("message.") {
            result.append(Emission(event: "message:update", payload: update.normalizedJSON))
        } else if type == "dialog.typing" {
            result.append(Emission(event: "typing:update", payload: typingPayload(update)))
        } else if type.hasPrefix("dialog.") {
            result.append(Emission(event: "dialog:update", payload: update.normalizedJSON))
        } else if type.hasPrefix("user.") {
            result.append(Emission(event: "user:update", payload: update.normalizedJSON))
        }
        return result
    }

    /// `{dialogId, userId, userName?, expiresInMs}` where `userId` is the one typing.
    static func typingPayload(_ update: ChatUpdate) -> JSONValue {
        let typing = update.data["typing"]
        var object: [String: JSONValue] = [
            "dialogId": update.dialogId.map(JSONValue.string) ?? .null,
            "userId": typing?["userId"] ?? .null,
            "expiresInMs": typing?["expiresInMs"] ?? .number(5000),
        ]
        if let name = typing?["userInfo"]?["meta"]?["name"] ?? typing?["userName"] { object["userName"] = name }
        return .object(object)
    }
}
