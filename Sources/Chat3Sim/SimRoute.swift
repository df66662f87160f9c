import Foundation

/// Every route the emulator answers, matched from the method and the decoded path segments.
enum SimRoute: Sendable, Equatable {
    case health

    case listUsers, createUser
    case getUser(String), updateUser(String), deleteUser(String)

    case userDialogs(String)
    case userMessages(user: String, dialog: String)
    case userMessage(user: String, dialog: String, message: String)
    case setStatus(user: String, dialog: String, message: String, status: String)
    case statuses(user: String, dialog: String, message: String)
    case reactions(user: String, dialog: String, message: String)
    case reactionAction(user: String, dialog: String, message: String, action: String)
    case markAllRead(user: String, dialog: String)

    case listDialogs, createDialog
    case getDialog(String), deleteDialog(String)
    case members(String)
    case addMember(String)
    case removeMember(dialog: String, user: String)
    case setUnread(dialog: String, user: String)
    case typing(dialog: String, user: String)
    case createMessage(String), dialogMessages(String)

    case listMessages
    case getMessage(String), updateMessage(String)

    case getMeta(type: String, id: String)
    case putMetaMap(type: String, id: String)
    case deleteMetaKeys(type: String, id: String)
    case putMeta(type: String, id: String, key: String)
    case deleteMeta(type: String, id: String, key: String)

    case listTenants, createTenant
    case getTenant(String), deleteTenant(String)

    // Test hooks, not part of Chat3.
    case simRequests, simReset, simUpdates, simFail, simFailClear, simFlush, simKeys

    enum Access: Sendable {
        /// No API key needed.
        case open
        /// Any valid key (Chat3's `/api/users` routes check no permission).
        case key
        case permission(String)
    }

    var access: Access {
        switch self {
        case .health: .open
        case .listUsers, .createUser, .getUser, .updateUser, .deleteUser: .key
        case .simRequests, .simReset, .simUpdates, .simFail, .simFailClear, .simFlush, .simKeys: .key
        case .userDialogs, .userMessages, .userMessage, .statuses, .reactions, .listDialogs, .getDialog, .members,
             .dialogMessages, .listMessages, .getMessage, .getMeta, .listTenants, .getTenant:
            .permission("read")
        case .deleteDialog, .deleteMeta, .deleteMetaKeys, .deleteTenant: .permission("delete")
        default: .permission("write")
        }
    }

    var isHook: Bool {
        switch self {
        case .simRequests, .simReset, .simUpdates, .simFail, .simFailClear, .simFlush, .simKeys: true
        default: false
        }
    }

    /// Tenant routes act across tenants and take no `X-Tenant-ID`.
    var isTenantAdmin: Bool {
        switch self {
        case .listTenants, .createTenant, .getTenant, .deleteTenant: true
        default: false
        }
    }

    /// Splits and percent-decodes a path; a trailing slash is ignored, as Express does.
    static func segments(of path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map {
            $0.removingPercentEncoding ?? String($0)
        }
    }

    static func match(method: String, segments s: [String]) -> SimRoute? {
        switch (method, s.count) {
        case ("GET", 1) where s[0] == "health": return .health
        default: break
        }
        if s.first == "_sim", s.count == 2 {
            switch (method, s[1]) {
            case ("GET", "requests"): return .simRequests
            case ("POST", "reset"): return .simReset
            case ("GET", "updates"): return .simUpdates
            case ("POST", "fail"): return .simFail
            case ("DELETE", "fail"): return .simFailClear
            case ("POST", "flush"): return .simFlush
            case ("POST", "keys"): return .simKeys
            default: return nil
            }
        }
        guard s.count >= 2, s[0] == "api" else { return nil }
        switch s[1] {
        case "users": return matchUsers(method, Array(s.dropFirst(2)))
        case "dialogs": return matchDialogs(method, Array(s.dropFirst(2)))
        case "messages":
            switch (method, s.count) {
            case ("GET", 2): return .listMessages
            case ("GET", 3): return .getMessage(s[2])
            case ("PUT", 3): return .updateMessage(s[2])
            default: return nil
            }
        case "meta":
            switch (method, s.count) {
            case ("GET", 4): return .getMeta(type: s[2], id: s[3])
            case ("PUT", 4): return .putMetaMap(type: s[2], id: s[3])
            case ("DELETE", 4): return .deleteMetaKeys(type: s[2], id: s[3])
            case ("PUT", 5): return .putMeta(type: s[2], id: s[3], key: s[4])
            case ("DELETE", 5): return .deleteMeta(type: s[2], id: s[3], key: s[4])
            default: return nil
            }
        case "tenants":
            switch (method, s.count) {
            case ("GET", 2): return .listTenants
            case ("POST", 2): return .createTenant
            case ("GET", 3): return .getTenant(s[2])
            case ("DELETE", 3): return .deleteTenant(s[2])
            default: return nil
            }
        default: return nil
        }
    }

    private static func matchUsers(_ method: String, _ s: [String]) -> SimRoute? {
        switch (method, s.count) {
        case ("GET", 0): return .listUsers
        case ("POST", 0): return .createUser
        case ("GET", 1): return .getUser(s[0])
        case ("PUT", 1): return .updateUser(s[0])
        case ("DELETE", 1): return .deleteUser(s[0])
        default: break
        }
        guard s.count >= 2, s[1] == "dialogs" else { return nil }
        let user = s[0]
        switch (method, s.count) {
        case ("GET", 2): return .userDialogs(user)
        case ("POST", 4) where s[3] == "markAllRead": return .markAllRead(user: user, dialog: s[2])
        case ("GET", 4) where s[3] == "messages": return .userMessages(user: user, dialog: s[2])
        case ("GET", 5) where s[3] == "messages": return .userMessage(user: user, dialog: s[2], message: s[4])
        case ("GET", 6) where s[3] == "messages" && s[5] == "statuses":
            return .statuses(user: user, dialog: s[2], message: s[4])
        case ("GET", 6) where s[3] == "messages" && s[5] == "reactions":
            return .reactions(user: user, dialog: s[2], message: s[4])
        case ("POST", 7) where s[3] == "messages" && s[5] == "status":
            return .setStatus(user: user, dialog: s[2], message: s[4], status: s[6])
        case ("POST", 7) where s[3] == "messages" && s[5] == "reactions":
            return .reactionAction(user: user, dialog: s[2], message: s[4], action: s[6])
        default: return nil
        }
    }

    private static func matchDialogs(_ method: String, _ s: [String]) -> SimRoute? {
        switch (method, s.count) {
        case ("GET", 0): return .listDialogs
        case ("POST", 0): return .createDialog
        case ("GET", 1): return .getDialog(s[0])
        case ("DELETE", 1): return .deleteDialog(s[0])
        case ("GET", 2) where s[1] == "members": return .members(s[0])
        case ("GET", 2) where s[1] == "messages": return .dialogMessages(s[0])
        case ("POST", 2) where s[1] == "messages": return .createMessage(s[0])
        case ("POST", 3) where s[1] == "members" && s[2] == "add": return .addMember(s[0])
        case ("POST", 4) where s[1] == "members" && s[3] == "remove": return .removeMember(dialog: s[0], user: s[2])
        case ("PATCH", 4) where s[1] == "members" && s[3] == "unread": return .setUnread(dialog: s[0], user: s[2])
        case ("POST", 4) where s[1] == "member" && s[3] == "typing": return .typing(dialog: s[0], user: s[2])
        default: return nil
        }
    }
}
