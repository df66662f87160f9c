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
/// instances each user is online, with whom that instance told (so a second instance's first socket is
/// not announced again, a user leaving one instance while still on another is not announced offline,
/// and the users of an instance that died are announced offline to the right people).
final class PresenceDirectory: Sendable {
    private struct State {
        var told: [UserID: Set<UserID>] = [:]
        /// user → the other instances it is online on → the recipients of that instance's notice.
        var elsewhere: [UserID: [String: Set<UserID>]] = [:]
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

    /// Records that `user` is online on `origin`, which told `recipients`; returns whether it already
    /// was on some other instance.
    func arrived(_ user: UserID, on origin: String, toldTo recipients: Set<UserID>) -> Bool {
        state.withLock { state in
            let before = !(state.elsewhere[user]?.isEmpty ?? true)
            state.elsewhere[user, default: [:]][origin] = recipients
            return before
        }
    }

    /// Records that `user` left `origin`; returns whether it is still online on another instance.
    func left(_ user: UserID, from origin: String) -> Bool {
        state.withLock { state in
            state.elsewhere[user]?[origin] = nil
            if state.elsewhere[user]?.isEmpty == true { state.elsewhere[user] = nil }
            return state.elsewhere[user] != nil
        }
    }

    /// Forgets the instance `origin`; returns the users that were online on it, each with the recipients
    /// of its notice.
    func forget(origin: String) -> [(user: UserID, recipients: Set<UserID>)] {
        state.withLock { state in
            var users: [(user: UserID, recipients: Set<UserID>)] = []
            for (user, origins) in state.elsewhere {
                guard let recipients = origins[origin] else { continue }
                users.append((user, recipients))
                state.elsewhere[user]?[origin] = nil
                if state.elsewhere[user]?.isEmpty == true { state.elsewhere[user] = nil }
            }
            return users
        }
    }
}
