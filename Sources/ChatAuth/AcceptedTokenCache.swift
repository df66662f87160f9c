import ChatCore
import Foundation
import Synchronization

/// The clocks `TokenService` reads: a monotonic one for how long an accepted token is trusted, and the
/// wall clock for the token's own `exp`. Tests pass their own.
public struct TokenClock: Sendable {
    public var instant: @Sendable () -> ContinuousClock.Instant
    public var date: @Sendable () -> Date

    public init(instant: @escaping @Sendable () -> ContinuousClock.Instant, date: @escaping @Sendable () -> Date) {
        self.instant = instant
        self.date = date
    }

    public static let system = TokenClock(instant: { ContinuousClock.now }, date: { Date() })
}

/// Tokens this process accepted recently, so a busy client does not cost an HMAC, a JSON decode and two
/// store reads per request.
///
/// Keyed by the whole token text: equal bytes verify equally (the key never changes while the process
/// runs), so a hit may skip the signature check; `exp` is still checked on every hit. An entry is trusted
/// for `lifetime` from the moment its store reads *started*; after that the token is checked in full again.
/// That lifetime is the bound on how late this process notices a revocation or a disabled/deleted user
/// written by another process (chatctl, another chatd). Revocations made through this process
/// (`revoking`/`revoked`) take effect at once: the entries go, and for one lifetime a check that was
/// already in flight cannot put them back.
final class AcceptedTokenCache: Sendable {
    struct Entry: Sendable {
        let user: User
        let claims: SessionClaims
        let trustedUntil: ContinuousClock.Instant
    }

    private struct State {
        var entries: [String: Entry] = [:]
        /// jti → until when an in-flight check must not cache it (this process revoked it).
        var revokedHere: [String: ContinuousClock.Instant] = [:]
        /// userId → the same, for users this process was told about (`forget(user:)`).
        var forgottenUsers: [String: ContinuousClock.Instant] = [:]
        var nextSweep: ContinuousClock.Instant
    }

    let lifetime: Duration
    private let capacity: Int
    private let clock: TokenClock
    private let state: Mutex<State>

    init(lifetime: Duration, capacity: Int, clock: TokenClock) {
        self.lifetime = lifetime
        self.capacity = max(1, capacity)
        self.clock = clock
        state = Mutex(State(nextSweep: clock.instant() + lifetime))
    }

    var isEnabled: Bool { lifetime > .zero }

    /// The user and claims of `token` if it was accepted within the lifetime and has not expired since.
    func lookup(_ token: String) -> (User, SessionClaims)? {
        guard isEnabled else { return nil }
        let now = clock.instant()
        guard let entry = state.withLock({ $0.entries[token] }), entry.trustedUntil > now else { return nil }
        // jwt-kit's own rule: expired once `exp` is not in the future.
        guard entry.claims.exp.value > clock.date() else { return nil }
        return (entry.user, entry.claims)
    }

    /// Remembers a token that passed the full check; `checkStarted` is when its store reads began.
    func insert(_ token: String, user: User, claims: SessionClaims, checkStarted: ContinuousClock.Instant) {
        guard isEnabled else { return }
        let now = clock.instant()
        let trustedUntil = checkStarted + lifetime
        guard trustedUntil > now else { return }
        state.withLock { state in
            sweep(&state, now: now)
            // Revoked here while this check was in flight: its "not revoked" answer may predate the write.
            guard state.revokedHere[claims.jti.value] == nil, state.forgottenUsers[claims.userId] == nil else { return }
            if state.entries.count >= capacity {
                state.entries.removeAll(keepingCapacity: true)
            }
            state.entries[token] = Entry(user: user, claims: claims, trustedUntil: trustedUntil)
        }
    }

    /// Call before writing a revocation: the token is refused here from now on.
    func revoking(jti: String) {
        guard isEnabled else { return }
        state.withLock { state in
            // Until `revoked` replaces it: however long the write takes.
            state.revokedHere[jti] = clock.instant() + .seconds(86_400 * 365)
            state.entries = state.entries.filter { $0.value.claims.jti.value != jti }
        }
    }

    /// Call once the revocation is written (or failed): checks that start from now on read it from the
    /// store, and those that started earlier are trusted for at most one lifetime, so the guard can go then.
    func revoked(jti: String) {
        guard isEnabled else { return }
        let until = clock.instant() + lifetime
        state.withLock { $0.revokedHere[jti] = until }
    }

    /// Forgets every token of `userId` (disabled, deleted or kicked, as this process was told): the next
    /// check of any of them reads the store. Checks already in flight cannot cache them for one lifetime.
    func forget(user userId: String) {
        guard isEnabled else { return }
        let until = clock.instant() + lifetime
        state.withLock { state in
            state.forgottenUsers[userId] = until
            state.entries = state.entries.filter { $0.value.claims.userId != userId }
        }
    }

    /// Drops entries past their trust, at most once per lifetime, so idle tokens do not stay in memory.
    private func sweep(_ state: inout State, now: ContinuousClock.Instant) {
        guard now >= state.nextSweep else { return }
        state.nextSweep = now + lifetime
        state.entries = state.entries.filter { $0.value.trustedUntil > now }
        state.revokedHere = state.revokedHere.filter { $0.value > now }
        state.forgottenUsers = state.forgottenUsers.filter { $0.value > now }
    }

    var count: Int { state.withLock { $0.entries.count } }
}
