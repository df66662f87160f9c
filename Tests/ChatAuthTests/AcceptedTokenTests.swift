import ChatAuth
import ChatCore
import ChatStore
import Foundation
import Synchronization
import Testing

/// Both clocks `TokenService` reads, moved by hand.
final class ManualTokenClock: Sendable {
    private let state: Mutex<(instant: ContinuousClock.Instant, date: Date)>

    init() { state = Mutex((ContinuousClock.now, Date())) }

    func advance(_ duration: Duration) {
        state.withLock { state in
            state.instant += duration
            let (seconds, attoseconds) = duration.components
            state.date += Double(seconds) + Double(attoseconds) / 1e18
        }
    }

    var clock: TokenClock {
        TokenClock(instant: { self.state.withLock { $0.instant } }, date: { self.state.withLock { $0.date } })
    }
}

/// A store that counts the reads `authenticate` makes and can hold one `user(id:)` read until released,
/// to stage a check that is in flight while a logout happens.
final class InstrumentedStore: UserStore, Sendable {
    let base: SQLiteUserStore
    private let state = Mutex<(reads: Int, gate: CheckedContinuation<Void, Never>?, holdNext: Bool, held: Bool)>((0, nil, false, false))

    init(_ base: SQLiteUserStore) { self.base = base }

    var reads: Int { state.withLock { $0.reads } }
    var isHolding: Bool { state.withLock { $0.held } }
    func holdNextUserRead() { state.withLock { $0.holdNext = true } }
    func release() { state.withLock { state in state.gate?.resume(); state.gate = nil } }

    func user(id: UserID) async throws -> User? {
        let hold = state.withLock { state in
            state.reads += 1
            defer { state.holdNext = false }
            return state.holdNext
        }
        if hold {
            await withCheckedContinuation { continuation in
                state.withLock { state in
                    state.gate = continuation
                    state.held = true
                }
            }
        }
        return try await base.user(id: id)
    }

    func isTokenRevoked(jti: String) async throws -> Bool {
        state.withLock { $0.reads += 1 }
        return try await base.isTokenRevoked(jti: jti)
    }

    func revokedTokens(among jtis: [String]) async throws -> Set<String> {
        state.withLock { $0.reads += 1 }
        return try await base.revokedTokens(among: jtis)
    }

    func activeUsers(among ids: [UserID]) async throws -> Set<UserID> {
        state.withLock { $0.reads += 1 }
        return try await base.activeUsers(among: ids)
    }

    func createUser(_ user: User) async throws { try await base.createUser(user) }
    func user(phone: Phone) async throws -> User? { try await base.user(phone: phone) }
    func listUsers(_ query: UserQuery) async throws -> [User] { try await base.listUsers(query) }
    func renameUser(id: UserID, to name: UserName) async throws -> User { try await base.renameUser(id: id, to: name) }
    func setStatus(id: UserID, to status: UserStatus) async throws -> User { try await base.setStatus(id: id, to: status) }
    func deleteUser(id: UserID) async throws { try await base.deleteUser(id: id) }
    func touchLastActive(id: UserID, at date: Date) async throws { try await base.touchLastActive(id: id, at: date) }
    func issueVerification(id: UserID, _ verification: PendingVerification, cooldownSince: Date) async throws -> Bool {
        try await base.issueVerification(id: id, verification, cooldownSince: cooldownSince)
    }
    func verification(id: UserID) async throws -> PendingVerification? { try await base.verification(id: id) }
    func countVerificationAttempt(id: UserID, maxAttempts: Int) async throws -> PendingVerification? {
        try await base.countVerificationAttempt(id: id, maxAttempts: maxAttempts)
    }
    func consumeVerification(id: UserID, codeHash: String) async throws -> Bool {
        try await base.consumeVerification(id: id, codeHash: codeHash)
    }
    func incrementCounter(key: String, windowStart: Date, expiresAt: Date) async throws -> Int {
        try await base.incrementCounter(key: key, windowStart: windowStart, expiresAt: expiresAt)
    }
    func releaseCounter(key: String, windowStart: Date) async throws {
        try await base.releaseCounter(key: key, windowStart: windowStart)
    }
    func revokeToken(jti: String, expiresAt: Date) async throws { try await base.revokeToken(jti: jti, expiresAt: expiresAt) }
    func purgeExpired(now: Date) async throws -> Int { try await base.purgeExpired(now: now) }
    func appliedMigrations() async throws -> [MigrationRecord] { try await base.appliedMigrations() }
    func recordMigration(_ record: MigrationRecord) async throws { try await base.recordMigration(record) }
    func countUsersWithoutUserID() async throws -> Int { try await base.countUsersWithoutUserID() }
    func assignMissingUserIDs(limit: Int, makeID: @Sendable () -> UserID) async throws -> Int {
        try await base.assignMissingUserIDs(limit: limit, makeID: makeID)
    }
    var location: String { base.location }
    func close() async { await base.close() }
}

/// chatd's token service over one SQLite file, plus a second connection to the same file standing in for
/// another process (chatctl or another chatd instance).
struct AcceptedTokenHarness {
    static let secret = String(repeating: "s", count: 48)
    let directory: URL
    let store: InstrumentedStore
    /// Another process's handle on the same database.
    let otherProcess: SQLiteUserStore
    let time = ManualTokenClock()
    let tokens: TokenService
    let user: User

    init(recheckInterval: Duration = .seconds(1)) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tokens-\(UUID().uuidString)")
        let path = directory.appendingPathComponent("users.sqlite").path
        store = InstrumentedStore(try SQLiteUserStore(path: path))
        otherProcess = try SQLiteUserStore(path: path)
        tokens = await TokenService(secret: Self.secret, lifetimeSeconds: 3600, store: store,
                                    recheckInterval: recheckInterval, clock: time.clock)
        user = User(userId: UserID.generate(), phone: try Phone(normalizing: "79005550011"),
                    name: try UserName(validating: "Ann"), createdAt: Date())
        try await store.createUser(user)
    }

    /// A service of another process: same secret, same database, its own memory.
    func otherService() async -> TokenService {
        await TokenService(secret: Self.secret, lifetimeSeconds: 3600, store: otherProcess, clock: time.clock)
    }

    func cleanUp() async {
        await store.close()
        await otherProcess.close()
        try? FileManager.default.removeItem(at: directory)
    }
}

@Suite("Accepted-token memory: logout, disable and revocation stay exact within the bound")
struct AcceptedTokenTests {
    @Test("a repeated token is answered without store reads within the recheck interval, and re-read after it")
    func cachedThenRechecked() async throws {
        let h = try await AcceptedTokenHarness()
        let token = try await h.tokens.mint(for: h.user)
        _ = try await h.tokens.authenticate(token)
        let readsAfterFirst = h.store.reads
        #expect(readsAfterFirst == 2)
        h.time.advance(.milliseconds(900))
        let (user, _) = try await h.tokens.authenticate(token)
        #expect(user.userId == h.user.userId)
        #expect(h.store.reads == readsAfterFirst)
        h.time.advance(.milliseconds(200))
        _ = try await h.tokens.authenticate(token)
        #expect(h.store.reads == readsAfterFirst + 2)
        await h.cleanUp()
    }

    @Test("a logout through this service is refused at once, though the token was just accepted from memory")
    func logoutHereIsImmediate() async throws {
        // A long interval: only the logout itself can make the next check refuse.
        let h = try await AcceptedTokenHarness(recheckInterval: .seconds(3600))
        let token = try await h.tokens.mint(for: h.user)
        _ = try await h.tokens.authenticate(token)
        _ = try await h.tokens.authenticate(token)
        try await h.tokens.revoke(try await h.tokens.verifySignature(token))
        await #expect(throws: AuthError.revoked) { try await h.tokens.authenticate(token) }
        // Another token of the same user is unaffected.
        let other = try await h.tokens.mint(for: h.user)
        _ = try await h.tokens.authenticate(other)
        await h.cleanUp()
    }

    @Test("a logout through a copy of the service (HTTP and Socket.IO share one) is refused by every copy")
    func copiesShareMemory() async throws {
        let h = try await AcceptedTokenHarness(recheckInterval: .seconds(3600))
        let socketSide = h.tokens
        let token = try await h.tokens.mint(for: h.user)
        _ = try await socketSide.authenticate(token)
        try await h.tokens.revoke(try await h.tokens.verifySignature(token))
        await #expect(throws: AuthError.revoked) { try await socketSide.authenticate(token) }
        await h.cleanUp()
    }

    @Test("a check in flight during a logout here cannot put the token back in memory")
    func inFlightCheckDuringLogout() async throws {
        let h = try await AcceptedTokenHarness(recheckInterval: .seconds(3600))
        let token = try await h.tokens.mint(for: h.user)
        let claims = try await h.tokens.verifySignature(token)
        // The check reads "not revoked", then waits in its user read while the logout completes.
        h.store.holdNextUserRead()
        let tokens = h.tokens
        let inFlight = Task { try await tokens.authenticate(token) }
        while !h.store.isHolding { try await Task.sleep(for: .milliseconds(5)) }
        try await h.tokens.revoke(claims)
        h.store.release()
        // That check read the store before the logout; what matters is the next one.
        _ = try? await inFlight.value
        await #expect(throws: AuthError.revoked) { try await h.tokens.authenticate(token) }
        await h.cleanUp()
    }

    @Test("a user disabled by another process is refused once the recheck interval has passed")
    func disableElsewhereWithinBound() async throws {
        let h = try await AcceptedTokenHarness(recheckInterval: .seconds(1))
        let token = try await h.tokens.mint(for: h.user)
        _ = try await h.tokens.authenticate(token)
        _ = try await h.otherProcess.setStatus(id: h.user.userId, to: .disabled)
        h.time.advance(.seconds(1))
        await #expect(throws: AuthError.accountDisabled) { try await h.tokens.authenticate(token) }
        // Refusals are not remembered: re-enabling is seen at once.
        _ = try await h.otherProcess.setStatus(id: h.user.userId, to: .active)
        _ = try await h.tokens.authenticate(token)
        await h.cleanUp()
    }

    @Test("a user disabled by another process is refused at once when this process is told to forget them")
    func forgetIsImmediate() async throws {
        let h = try await AcceptedTokenHarness(recheckInterval: .seconds(3600))
        let token = try await h.tokens.mint(for: h.user)
        _ = try await h.tokens.authenticate(token)
        _ = try await h.otherProcess.setStatus(id: h.user.userId, to: .disabled)
        // Still remembered: the store write alone is seen only after the interval.
        _ = try await h.tokens.authenticate(token)
        h.tokens.forget(user: h.user.userId)
        await #expect(throws: AuthError.accountDisabled) { try await h.tokens.authenticate(token) }
        await h.cleanUp()
    }

    @Test("a user deleted by another process is refused once the recheck interval has passed")
    func deleteElsewhereWithinBound() async throws {
        let h = try await AcceptedTokenHarness(recheckInterval: .seconds(1))
        let token = try await h.tokens.mint(for: h.user)
        _ = try await h.tokens.authenticate(token)
        try await h.otherProcess.deleteUser(id: h.user.userId)
        h.time.advance(.milliseconds(1001))
        await #expect(throws: AuthError.unknownUser) { try await h.tokens.authenticate(token) }
        await h.cleanUp()
    }

    @Test("a logout on another instance (or chatctl token revoke) is refused here once the recheck interval has passed")
    func revokeElsewhereWithinBound() async throws {
        let h = try await AcceptedTokenHarness(recheckInterval: .seconds(1))
        let token = try await h.tokens.mint(for: h.user)
        _ = try await h.tokens.authenticate(token)
        let elsewhere = await h.otherService()
        try await elsewhere.revoke(try await elsewhere.verifySignature(token))
        await #expect(throws: AuthError.revoked) { try await elsewhere.authenticate(token) }
        h.time.advance(.seconds(1))
        await #expect(throws: AuthError.revoked) { try await h.tokens.authenticate(token) }
        await h.cleanUp()
    }

    @Test("a remembered token is refused as soon as it expires")
    func expiryCheckedOnEveryHit() async throws {
        let h = try await AcceptedTokenHarness(recheckInterval: .seconds(3600))
        // Minted on the test clock, so only `advance` moves it towards `exp`, however slow the machine.
        let token = try await h.tokens.mint(for: h.user, lifetimeSeconds: 60, now: h.time.clock.date())
        _ = try await h.tokens.authenticate(token)
        h.time.advance(.seconds(61))
        await #expect(throws: AuthError.self) { try await h.tokens.authenticate(token) }
        await h.cleanUp()
    }

    @Test("with a zero recheck interval every check reads the store")
    func zeroIntervalDisablesMemory() async throws {
        let h = try await AcceptedTokenHarness(recheckInterval: .zero)
        let token = try await h.tokens.mint(for: h.user)
        _ = try await h.tokens.authenticate(token)
        _ = try await h.otherProcess.setStatus(id: h.user.userId, to: .disabled)
        await #expect(throws: AuthError.accountDisabled) { try await h.tokens.authenticate(token) }
        await h.cleanUp()
    }

    @Test("a forged token equal to a remembered one but for its signature is refused")
    func forgedSignatureNotAHit() async throws {
        let h = try await AcceptedTokenHarness(recheckInterval: .seconds(3600))
        let token = try await h.tokens.mint(for: h.user)
        _ = try await h.tokens.authenticate(token)
        var parts = token.split(separator: ".").map(String.init)
        parts[2] = String(parts[2].reversed())
        await #expect(throws: AuthError.self) { try await h.tokens.authenticate(parts.joined(separator: ".")) }
        await h.cleanUp()
    }
}
