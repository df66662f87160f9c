import Chat3Client
import ChatCore
import Synchronization

/// Who shares at least one dialog with a user: the only people told when it comes online or goes offline.
public protocol CoMemberFinding: Sendable {
    /// Everyone sharing a dialog with `userId`, without `userId` itself. Throws when the answer cannot be
    /// had (Chat3 down); the user's presence then reaches nobody.
    func coMembers(of userId: UserID) async throws -> Set<UserID>
}

/// Chat3's dialog and member lists, through the client's short-lived caches.
struct Chat3CoMembers: CoMemberFinding {
    let chat3: Chat3Client

    func coMembers(of userId: UserID) async throws -> Set<UserID> {
        try await chat3.coMembers(of: userId)
    }
}

/// A presence change one instance tells the others: `userId` came online on (or left) the sending
/// instance, and `recipients` are its co-members, so a receiving instance needs no Chat3 call.
public struct PresenceNotice: Sendable, Equatable {
    public var online: Bool
    public var userId: UserID
    public var userName: String?
    public var recipients: [UserID]

    public init(online: Bool, userId: UserID, userName: String?, recipients: [UserID]) {
        self.online = online
        self.userId = userId
        self.userName = userName
        self.recipients = recipients
    }

    /// `user:online {userId, userName}` or `user:offline {userId}`.
    var event: (name: String, payload: JSONValue) {
        if online {
            var payload: [String: JSONValue] = ["userId": .string(userId.rawValue)]
            if let userName { payload["userName"] = .string(userName) }
            return ("user:online", .object(payload))
        }
        return ("user:offline", ["userId": .string(userId.rawValue)])
    }
}

/// What this instance knows about presence beyond its own sockets: whom it told about each of its
/// users (so `user:offline` goes to the same people without asking Chat3 again), and on which other
/// instances each user is online (so a second instance's first socket is not announced again, and a
/// user leaving one instance while still on another is not announced offline).
final class PresenceDirectory: Sendable {
    private struct State {
        var told: [UserID: Set<UserID>] = [:]
        var elsewhere: [UserID: Set<String>] = [:]
    }

    private let state = Mutex(State())

    func told(_ recipients: Set<UserID>, about user: UserID) {
        state.withLock { $0.told[user] = recipients }
    }

    /// Removes and returns whom the user's arrival was told to.
    func takeTold(about user: UserID) -> Set<UserID> {
        state.withLock { $0.told.removeValue(forKey: user) ?? [] }
    }

    func isOnlineElsewhere(_ user: UserID) -> Bool {
        state.withLock { !($0.elsewhere[user]?.isEmpty ?? true) }
    }

    /// Records that `user` is online on `origin`; returns whether it already was on some other instance.
    func arrived(_ user: UserID, on origin: String) -> Bool {
        state.withLock { state in
            let before = !(state.elsewhere[user]?.isEmpty ?? true)
            state.elsewhere[user, default: []].insert(origin)
            return before
        }
    }

    /// Records that `user` left `origin`; returns whether it is still online on another instance.
    func left(_ user: UserID, from origin: String) -> Bool {
        state.withLock { state in
            state.elsewhere[user]?.remove(origin)
            if state.elsewhere[user]?.isEmpty == true { state.elsewhere[user] = nil }
            return state.elsewhere[user] != nil
        }
    }
}
