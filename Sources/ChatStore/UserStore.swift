import ChatCore
import Foundation

/// What can go wrong in a store, independent of the backend. Driver errors never travel further up.
public enum StoreError: Error, Equatable, Sendable {
    /// A unique field (`phone` or `userId`) already belongs to another user.
    case conflict(field: String)
    /// No such user.
    case notFound
    /// The store cannot be reached or answered with a driver error.
    case unavailable(String)
    /// The store URL or stored data is not usable.
    case invalid(String)
    /// The SQLite file does not exist, and this opener may not create it (admin tools open existing stores only).
    case missing(path: String)
    /// The SQLite file (or its folder) cannot be written by this process.
    case notWritable(path: String, reason: String)

    public var message: String {
        switch self {
        case .conflict(let field): "a user with this \(field) already exists"
        case .notFound: "user not found"
        case .unavailable(let why): "store unavailable: \(why)"
        case .invalid(let why): "store error: \(why)"
        case .missing(let path): "store not found: \(path) does not exist"
        case .notWritable(let path, let reason): "store not writable: \(path): \(reason)"
        }
    }
}

/// How `listUsers` narrows and orders its result: by `createdAt`, then `userId`.
public struct UserQuery: Sendable, Equatable {
    public var phonePrefix: String?
    /// Names containing this text, case-insensitively (Unicode case folding, not just ASCII).
    public var nameContains: String?
    public var status: UserStatus?
    public var limit: Int

    public init(phonePrefix: String? = nil, nameContains: String? = nil, status: UserStatus? = nil, limit: Int = 100) {
        self.phonePrefix = phonePrefix
        self.nameContains = nameContains
        self.status = status
        self.limit = limit
    }
}

/// One applied schema or data migration, as kept in the `migrations` ledger.
public struct MigrationRecord: Codable, Sendable, Equatable {
    public var id: String
    public var appliedAt: Date

    public init(id: String, appliedAt: Date) {
        self.id = id
        self.appliedAt = appliedAt
    }
}

/// A user row written before `userId` existed (the seed's data): only phone and name.
public struct LegacyUser: Sendable, Equatable {
    public var phone: String
    public var name: String

    public init(phone: String, name: String) {
        self.phone = phone
        self.name = name
    }
}

/// The users of chatd, and the small amount of shared state that must hold across chatd instances:
/// pending one-time codes, rate-limit counters, revoked tokens and the migrations ledger.
///
/// Every method that must be atomic says so; both backends implement it with one conditional write
/// (SQL `UPDATE … WHERE`, Mongo `findAndModify`), never read-then-write.
public protocol UserStore: Sendable {
    // MARK: users

    /// Inserts a new user. Throws `.conflict(field:)` when the phone or userId is taken.
    func createUser(_ user: User) async throws
    func user(id: UserID) async throws -> User?
    func user(phone: Phone) async throws -> User?
    func listUsers(_ query: UserQuery) async throws -> [User]
    /// Throws `.notFound` for an unknown id.
    func renameUser(id: UserID, to name: UserName) async throws -> User
    /// Throws `.notFound` for an unknown id.
    func setStatus(id: UserID, to status: UserStatus) async throws -> User
    /// Throws `.notFound` for an unknown id.
    func deleteUser(id: UserID) async throws
    func touchLastActive(id: UserID, at date: Date) async throws

    // MARK: one-time codes

    /// Stores a new pending code for the user unless one was sent after `cooldownSince`.
    /// Atomic: of two concurrent calls inside the cooldown, at most one returns true.
    func issueVerification(id: UserID, _ verification: PendingVerification, cooldownSince: Date) async throws -> Bool
    func verification(id: UserID) async throws -> PendingVerification?
    /// Counts one attempt against the pending code, atomically, unless `maxAttempts` are used up.
    /// Returns the verification as it is after counting, or nil when there is none left to try.
    func countVerificationAttempt(id: UserID, maxAttempts: Int) async throws -> PendingVerification?
    /// Removes the pending code if its hash is still `codeHash`. Returns whether this call removed it,
    /// so a code is consumed exactly once.
    func consumeVerification(id: UserID, codeHash: String) async throws -> Bool

    // MARK: rate limits

    /// Adds one hit to the counter `key` for the fixed window starting at `windowStart`, atomically,
    /// and returns the count including this hit. Counters disappear after `expiresAt`.
    func incrementCounter(key: String, windowStart: Date, expiresAt: Date) async throws -> Int
    /// Takes back one hit of the counter `key` in the window starting at `windowStart`, atomically and
    /// never below zero: a hit is counted first (so concurrent callers cannot pass a limit together) and
    /// released when it turned out not to count (a code refused for the cooldown, a correct code).
    func releaseCounter(key: String, windowStart: Date) async throws

    // MARK: revoked tokens

    func revokeToken(jti: String, expiresAt: Date) async throws
    func isTokenRevoked(jti: String) async throws -> Bool
    /// Of `jtis`, the revoked ones, asked in a few queries however many there are: the session recheck
    /// asks about the token of every open socket.
    func revokedTokens(among jtis: [String]) async throws -> Set<String>
    /// Of `ids`, the users that exist and are active, asked in a few queries (see `revokedTokens`).
    func activeUsers(among ids: [UserID]) async throws -> Set<UserID>
    /// Removes revocations and counters whose time has passed; returns how many went.
    func purgeExpired(now: Date) async throws -> Int

    // MARK: migrations

    func appliedMigrations() async throws -> [MigrationRecord]
    func recordMigration(_ record: MigrationRecord) async throws
    /// How many users still have no `userId` (the seed's data before add-userid).
    func countUsersWithoutUserID() async throws -> Int
    /// Gives up to `limit` users without a `userId` one from `makeID`. A generated id that collides is
    /// replaced by a fresh one, so every user ends with a distinct id. Returns how many were updated.
    func assignMissingUserIDs(limit: Int, makeID: @Sendable () -> UserID) async throws -> Int

    /// A short description of where the data lives, without credentials.
    var location: String { get }
    func close() async
}

/// Lets tests write rows the way the seed did, without `userId`. Not used by the product.
public protocol LegacyUserSeeding: UserStore {
    func insertLegacyUsers(_ users: [LegacyUser]) async throws
}

/// How many values one `IN`/`$in` query of the batched reads carries: under SQLite's default limit of
/// host parameters, and a small command for a document store.
let storeBatchSize = 500

