import ChatCore
import Synchronization

/// Whether a user belongs to a dialog, asked before a socket may join the dialog's room (SPEC §12:
/// sockets only join rooms of dialogs they belong to). The Chat3-backed implementation lives with the
/// Chat3 client; tests inject doubles.
public protocol DialogMembershipChecking: Sendable {
    /// True when `userId` is a member of `dialogId`. Throws when the answer cannot be had (Chat3 down);
    /// the join is then refused with `chat3_unavailable`.
    func isMember(_ userId: UserID, ofDialog dialogId: DialogRoomID) async throws -> Bool
    /// Told when Chat3 reports `userId` removed from `dialogId`, so a remembered "yes" is not used again.
    func memberRemoved(_ userId: UserID, fromDialog dialogId: DialogRoomID)
}

extension DialogMembershipChecking {
    /// Checkers that remember nothing have nothing to forget.
    public func memberRemoved(_ userId: UserID, fromDialog dialogId: DialogRoomID) {}
}

/// A dialog id as a socket sends it, validated at the edge: Chat3's `dlg_` followed by 20 characters of
/// `[a-z0-9]`, so nothing else reaches a Chat3 URL or a room name.
public struct DialogRoomID: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String

    public init?(rawValue: String) {
        let prefix = "dlg_"
        guard rawValue.hasPrefix(prefix) else { return nil }
        let tail = rawValue.utf8.dropFirst(prefix.utf8.count)
        guard tail.count == 20, tail.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) }) else {
            return nil
        }
        self.rawValue = rawValue
    }

    /// The Socket.IO room of the dialog's watchers.
    public var room: String { "dialog:" + rawValue }
    public var description: String { rawValue }
}

/// Remembers positive answers for `lifetime`, so reconnect storms and tab switches do not hit Chat3 for
/// every join. Refusals and failures are not remembered: a user just added to a dialog can join at once,
/// and a removed member keeps room access for at most `lifetime`.
public final class CachedDialogMembership: DialogMembershipChecking {
    private struct Key: Hashable {
        var user: UserID
        var dialog: DialogRoomID
    }

    private let upstream: any DialogMembershipChecking
    private let lifetime: Duration
    private let capacity: Int
    private let clock: @Sendable () -> ContinuousClock.Instant
    private let members = Mutex<[Key: ContinuousClock.Instant]>([:])

    public init(_ upstream: any DialogMembershipChecking, lifetime: Duration = .seconds(30), capacity: Int = 100_000,
                clock: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.upstream = upstream
        self.lifetime = lifetime
        self.capacity = capacity
        self.clock = clock
    }

    public func memberRemoved(_ userId: UserID, fromDialog dialogId: DialogRoomID) {
        _ = members.withLock { $0.removeValue(forKey: Key(user: userId, dialog: dialogId)) }
        upstream.memberRemoved(userId, fromDialog: dialogId)
    }

    public func isMember(_ userId: UserID, ofDialog dialogId: DialogRoomID) async throws -> Bool {
        let key = Key(user: userId, dialog: dialogId)
        let now = clock()
        let cached = members.withLock { entries -> Bool in
            guard let expiry = entries[key] else { return false }
            if expiry > now { return true }
            entries[key] = nil
            return false
        }
        if cached { return true }
        let member = try await upstream.isMember(userId, ofDialog: dialogId)
        if member {
            members.withLock { entries in
                if entries.count >= capacity { entries = entries.filter { $0.value > now } }
                if entries.count < capacity { entries[key] = now + lifetime }
            }
        }
        return member
    }
}

/// Remembers, per key, when something last happened, to let it through at most once per `interval`:
/// typing relayed once per (socket, dialog) per `socketio.typing_interval`, and a "not a member" answer
/// reused for `socketio.membership_refusal_ttl`. Bounded: past `capacity` keys, expired ones go, and if
/// none have expired the oldest half does.
final class RecentKeys<Key: Hashable & Sendable>: Sendable {
    private let interval: Duration
    private let capacity: Int
    private let clock: @Sendable () -> ContinuousClock.Instant
    private let seen = Mutex<[Key: ContinuousClock.Instant]>([:])

    init(interval: Duration, capacity: Int = 100_000,
         clock: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.interval = interval
        self.capacity = capacity
        self.clock = clock
    }

    /// Whether `key` was recorded less than `interval` ago.
    func isRecent(_ key: Key) -> Bool {
        let now = clock()
        return seen.withLock { entries in
            guard let at = entries[key] else { return false }
            if now - at < interval { return true }
            entries[key] = nil
            return false
        }
    }

    func record(_ key: Key) {
        let now = clock()
        seen.withLock { entries in
            if entries.count >= capacity {
                entries = entries.filter { now - $0.value < interval }
                if entries.count >= capacity {
                    let keep = entries.sorted { $0.value > $1.value }.prefix(capacity / 2)
                    entries = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
                }
            }
            entries[key] = now
        }
    }

    /// Records `key` and returns true unless it was recorded less than `interval` ago.
    func admit(_ key: Key) -> Bool {
        guard !isRecent(key) else { return false }
        record(key)
        return true
    }
}
