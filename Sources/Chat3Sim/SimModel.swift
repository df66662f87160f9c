import ChatCore

/// The documents of one tenant. Reference types so handlers mutate in place; only `SimState` (an actor)
/// ever holds them, which is what makes them safe without being `Sendable`.
final class TenantRecord {
    let tenantId: String
    let createdAt: SimTime
    var users: [String: UserRecord] = [:]
    var userOrder: [String] = []
    var dialogs: [String: DialogRecord] = [:]
    var dialogOrder: [String] = []
    var messages: [String: MessageRecord] = [:]
    var messageOrder: [String] = []
    /// userId → dialog ids, in join order: the index behind `GET /api/users/:u/dialogs`.
    var memberships: [String: [String]] = [:]
    /// "entityType\u{0}entityId" → key → entry.
    var meta: [String: [String: MetaEntry]] = [:]

    init(tenantId: String, createdAt: SimTime) {
        self.tenantId = tenantId
        self.createdAt = createdAt
    }

    static func metaKey(_ entityType: String, _ entityId: String) -> String { entityType + "\u{0}" + entityId }

    func metaJSON(_ entityType: String, _ entityId: String) -> SimJSON {
        guard let entries = meta[Self.metaKey(entityType, entityId)], !entries.isEmpty else { return .object([]) }
        return .object(entries.keys.sorted().map { SimJSON.Field($0, SimJSON(entries[$0]!.value)) })
    }

    func user(_ userId: String) -> UserRecord? { users[userId.lowercased()] }

    func userType(_ userId: String) -> String { user(userId)?.type ?? "user" }
}

final class UserRecord {
    let userId: String
    var type: String
    let createdAt: SimTime

    init(userId: String, type: String, createdAt: SimTime) {
        self.userId = userId
        self.type = type
        self.createdAt = createdAt
    }
}

final class DialogRecord {
    let dialogId: String
    let createdAt: SimTime
    var members: [String: MemberRecord] = [:]
    var memberOrder: [String] = []
    /// In creation order, which is also `createdAt` order.
    var messageIds: [String] = []

    init(dialogId: String, createdAt: SimTime) {
        self.dialogId = dialogId
        self.createdAt = createdAt
    }
}

/// A membership plus what Chat3 keeps in `UserDialogStats`/`UserDialogActivity`.
final class MemberRecord {
    let userId: String
    let joinedAt: SimTime
    var lastSeenAt: SimTime?
    var lastMessageAt: SimTime?
    /// Kept incrementally: messages from others, not `system.*`, after joining, never read by this member.
    var unreadCount = 0

    init(userId: String, joinedAt: SimTime) {
        self.userId = userId
        self.joinedAt = joinedAt
    }

    var lastInteractionAt: SimTime {
        max(lastSeenAt ?? joinedAt, lastMessageAt ?? joinedAt)
    }
}

final class MessageRecord {
    let messageId: String
    let dialogId: String
    let senderId: String
    var content: String
    let type: String
    let createdAt: SimTime
    let quotedMessageId: String?
    var statuses: [StatusRecord] = []
    var reactions: [ReactionRecord] = []
    var readBy: Set<String> = []

    init(messageId: String, dialogId: String, senderId: String, content: String, type: String, createdAt: SimTime,
         quotedMessageId: String?) {
        self.messageId = messageId
        self.dialogId = dialogId
        self.senderId = senderId
        self.content = content
        self.type = type
        self.createdAt = createdAt
        self.quotedMessageId = quotedMessageId
    }

    var isSystem: Bool { type.hasPrefix("system.") }

    /// Whether this message counts towards `member`'s unread counter (Chat3 §3.3).
    func counts(for member: MemberRecord) -> Bool {
        senderId != member.userId && !isSystem && createdAt >= member.joinedAt
    }

    func latestStatus(of userId: String) -> StatusRecord? { statuses.last(where: { $0.userId == userId }) }
}

struct StatusRecord {
    let objectId: String
    let userId: String
    let userType: String?
    let status: String
    let createdAt: SimTime
}

struct ReactionRecord {
    let objectId: String
    let userId: String
    let reaction: String
    let createdAt: SimTime
}

struct MetaEntry {
    let objectId: String
    var value: JSONValue
    var dataType: String
    let createdAt: SimTime
    var updatedAt: SimTime

    static func dataType(of value: JSONValue) -> String {
        switch value {
        case .string: "string"
        case .number: "number"
        case .bool: "boolean"
        case .array: "array"
        case .object, .null: "object"
        }
    }
}

/// An API key and what it may do.
struct APIKeyRecord: Sendable {
    var permissions: Set<String>
    var active: Bool
}
