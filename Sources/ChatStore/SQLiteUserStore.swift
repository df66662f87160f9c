import ChatCore
import Foundation
import GRDB

/// The embedded default store: one SQLite file in WAL mode, shared safely by several processes
/// (chatd and chatctl) through SQLite's own locking.
public final class SQLiteUserStore: UserStore, LegacyUserSeeding {
    private let pool: DatabasePool
    public let location: String

    /// Opens the database file (creating it and its folder when `create` is set) and its tables.
    /// A new file is 0600, or 0660 owned by `group` when that group exists; SQLite gives its -wal and
    /// -shm files the same mode.
    public init(path: String, create: Bool = true, group: String? = nil) throws {
        location = "sqlite://\(path)"
        if FileManager.default.fileExists(atPath: path) {
            try Self.checkWritable(path)
        } else if create {
            try Self.createFile(path, group: group)
        } else {
            throw StoreError.missing(path: path)
        }
        var configuration = Configuration()
        // Another process may hold the write lock for a moment; wait instead of failing.
        configuration.busyMode = .timeout(5)
        pool = try Self.open(path, configuration: configuration)
    }

    /// Creates the empty database file with its final mode, so no other user can ever open it.
    private static func createFile(_ path: String, group: String?) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let gid = group.flatMap { name in getgrnam(name).map { $0.pointee.gr_gid } }
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                     attributes: [.posixPermissions: gid == nil ? 0o700 : 0o770])
            if let gid { _ = chown(directory, uid_t.max, gid) }
        }
        let fd = Glibc.open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        if fd < 0 {
            let code = errno
            // Another process created it a moment ago: open that one.
            if code == EEXIST { return try checkWritable(path) }
            let reason = "cannot create \(path): \(String(cString: strerror(code)))"
            if [EACCES, EPERM, EROFS].contains(code) { throw StoreError.notWritable(path: path, reason: reason) }
            throw StoreError.unavailable(reason)
        }
        defer { Glibc.close(fd) }
        // Explicit, not through the umask: 0600, or 0660 for the operator group.
        if let gid, fchown(fd, uid_t.max, gid) == 0 {
            fchmod(fd, 0o660)
        } else {
            fchmod(fd, 0o600)
        }
    }

    /// An existing file this process cannot read and write (SQLite's WAL needs both) is refused up front.
    private static func checkWritable(_ path: String) throws {
        guard access(path, R_OK | W_OK) != 0 else { return }
        throw StoreError.notWritable(path: path, reason: String(cString: strerror(errno)))
    }

    /// Opens the pool and creates the tables. Switching a new file to WAL takes an exclusive lock that
    /// SQLite does not wait for, so processes opening a new database together (several `chatctl` at
    /// once, chatd starting beside them) may be told "database is locked": retry for up to 5 s.
    private static func open(_ path: String, configuration: Configuration) throws -> DatabasePool {
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            do {
                let pool = try DatabasePool(path: path, configuration: configuration)
                try pool.write { db in try Self.createSchema(db) }
                return pool
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && ContinuousClock.now < deadline {
                Thread.sleep(forTimeInterval: 0.02 + Double.random(in: 0...0.03))
            } catch let error as DatabaseError where [.SQLITE_READONLY, .SQLITE_PERM, .SQLITE_CANTOPEN].contains(error.resultCode) {
                // The file is there (checked before): its folder or -wal/-shm files are not writable.
                throw StoreError.notWritable(path: path, reason: Self.describe(error))
            } catch {
                throw StoreError.unavailable("cannot open \(path): \(Self.describe(error))")
            }
        }
    }

    /// The base schema. Tables are created idempotently on open; later changes go through migrations.
    private static func createSchema(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE IF NOT EXISTS users (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                userId TEXT UNIQUE,
                phone TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'active',
                createdAt REAL NOT NULL,
                lastActiveAt REAL,
                codeHash TEXT,
                codeExpiresAt REAL,
                codeAttempts INTEGER NOT NULL DEFAULT 0,
                codeSentAt REAL
            );
            CREATE TABLE IF NOT EXISTS migrations (id TEXT PRIMARY KEY, appliedAt REAL NOT NULL);
            CREATE TABLE IF NOT EXISTS revoked_tokens (jti TEXT PRIMARY KEY, expiresAt REAL NOT NULL);
            CREATE TABLE IF NOT EXISTS rate_limits (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expiresAt REAL NOT NULL);
            CREATE INDEX IF NOT EXISTS users_created ON users (createdAt, userId);
            """)
    }

    // MARK: users

    public func createUser(_ user: User) async throws {
        try await write { db in
            // Name the conflicting field before inserting; the UNIQUE constraints still guard races
            // with other processes, and a constraint failure is then resolved the same way.
            if let field = try Self.conflictingField(db, user) { throw StoreError.conflict(field: field) }
            do {
                try db.execute(
                    sql: "INSERT INTO users (userId, phone, name, status, createdAt, lastActiveAt) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [user.userId.rawValue, user.phone.digits, user.name.value, user.status.rawValue,
                                user.createdAt.timeIntervalSince1970, user.lastActiveAt?.timeIntervalSince1970])
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw StoreError.conflict(field: try Self.conflictingField(db, user) ?? "phone")
            }
        }
    }

    private static func conflictingField(_ db: Database, _ user: User) throws -> String? {
        if try Bool.fetchOne(db, sql: "SELECT 1 FROM users WHERE phone = ?", arguments: [user.phone.digits]) != nil {
            return "phone"
        }
        if try Bool.fetchOne(db, sql: "SELECT 1 FROM users WHERE userId = ?", arguments: [user.userId.rawValue]) != nil {
            return "userId"
        }
        return nil
    }

    public func user(id: UserID) async throws -> User? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM users WHERE userId = ?", arguments: [id.rawValue]).flatMap(Self.user)
        }
    }

    public func user(phone: Phone) async throws -> User? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM users WHERE phone = ?", arguments: [phone.digits]).flatMap(Self.user)
        }
    }

    public func listUsers(_ query: UserQuery) async throws -> [User] {
        try await read { db in
            var sql = "SELECT * FROM users WHERE userId IS NOT NULL"
            var arguments: StatementArguments = []
            if let prefix = query.phonePrefix {
                // Phones are digits only, so a prefix needs no LIKE escaping beyond this check.
                sql += " AND substr(phone, 1, ?) = ?"
                arguments += [prefix.count, prefix]
            }
            if let text = query.nameContains {
                // GRDB's Swift lowercasing on both sides; SQLite's own lower() folds ASCII only.
                sql += " AND instr(swiftLowercaseString(name), ?) > 0"
                arguments += [text.lowercased()]
            }
            if let status = query.status {
                sql += " AND status = ?"
                arguments += [status.rawValue]
            }
            sql += " ORDER BY createdAt, userId LIMIT ?"
            arguments += [max(0, query.limit)]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).compactMap(Self.user)
        }
    }

    public func renameUser(id: UserID, to name: UserName) async throws -> User {
        try await updateUser(id: id, sql: "UPDATE users SET name = ? WHERE userId = ?", [name.value, id.rawValue])
    }

    public func setStatus(id: UserID, to status: UserStatus) async throws -> User {
        try await updateUser(id: id, sql: "UPDATE users SET status = ? WHERE userId = ?", [status.rawValue, id.rawValue])
    }

    private func updateUser(id: UserID, sql: String, _ arguments: StatementArguments) async throws -> User {
        try await write { db in
            try db.execute(sql: sql, arguments: arguments)
            guard db.changesCount == 1,
                  let user = try Row.fetchOne(db, sql: "SELECT * FROM users WHERE userId = ?", arguments: [id.rawValue])
                    .flatMap(Self.user)
            else { throw StoreError.notFound }
            return user
        }
    }

    public func deleteUser(id: UserID) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM users WHERE userId = ?", arguments: [id.rawValue])
            guard db.changesCount == 1 else { throw StoreError.notFound }
        }
    }

    public func touchLastActive(id: UserID, at date: Date) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE users SET lastActiveAt = ? WHERE userId = ?",
                           arguments: [date.timeIntervalSince1970, id.rawValue])
        }
    }

    // MARK: one-time codes

    public func issueVerification(id: UserID, _ verification: PendingVerification, cooldownSince: Date) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE users SET codeHash = ?, codeExpiresAt = ?, codeAttempts = ?, codeSentAt = ?
                    WHERE userId = ? AND (codeSentAt IS NULL OR codeSentAt <= ?)
                    """,
                arguments: [verification.codeHash, verification.expiresAt.timeIntervalSince1970, verification.attempts,
                            verification.sentAt.timeIntervalSince1970, id.rawValue, cooldownSince.timeIntervalSince1970])
            return db.changesCount == 1
        }
    }

    public func verification(id: UserID) async throws -> PendingVerification? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM users WHERE userId = ?", arguments: [id.rawValue])
                .flatMap(Self.verification)
        }
    }

    public func countVerificationAttempt(id: UserID, maxAttempts: Int) async throws -> PendingVerification? {
        try await write { db in
            try db.execute(
                sql: "UPDATE users SET codeAttempts = codeAttempts + 1 WHERE userId = ? AND codeHash IS NOT NULL AND codeAttempts < ?",
                arguments: [id.rawValue, maxAttempts])
            guard db.changesCount == 1 else { return nil }
            return try Row.fetchOne(db, sql: "SELECT * FROM users WHERE userId = ?", arguments: [id.rawValue])
                .flatMap(Self.verification)
        }
    }

    public func consumeVerification(id: UserID, codeHash: String) async throws -> Bool {
        try await write { db in
            // The cooldown clock (codeSentAt) stays, so a consumed code does not open a resend loophole.
            try db.execute(
                sql: "UPDATE users SET codeHash = NULL, codeExpiresAt = NULL, codeAttempts = 0 WHERE userId = ? AND codeHash = ?",
                arguments: [id.rawValue, codeHash])
            return db.changesCount == 1
        }
    }

    // MARK: rate limits and revocations

    public func incrementCounter(key: String, windowStart: Date, expiresAt: Date) async throws -> Int {
        let windowKey = "\(key)@\(Int(windowStart.timeIntervalSince1970))"
        return try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO rate_limits (key, count, expiresAt) VALUES (?, 1, ?)
                    ON CONFLICT(key) DO UPDATE SET count = count + 1
                    """,
                arguments: [windowKey, expiresAt.timeIntervalSince1970])
            return try Int.fetchOne(db, sql: "SELECT count FROM rate_limits WHERE key = ?", arguments: [windowKey]) ?? 1
        }
    }

    public func releaseCounter(key: String, windowStart: Date) async throws {
        let windowKey = "\(key)@\(Int(windowStart.timeIntervalSince1970))"
        try await write { db in
            try db.execute(sql: "UPDATE rate_limits SET count = count - 1 WHERE key = ? AND count > 0",
                           arguments: [windowKey])
        }
    }

    public func revokeToken(jti: String, expiresAt: Date) async throws {
        try await write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO revoked_tokens (jti, expiresAt) VALUES (?, ?)",
                           arguments: [jti, expiresAt.timeIntervalSince1970])
        }
    }

    public func isTokenRevoked(jti: String) async throws -> Bool {
        try await read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM revoked_tokens WHERE jti = ?", arguments: [jti]) != nil
        }
    }

    public func revokedTokens(among jtis: [String]) async throws -> Set<String> {
        try await read { db in
            var revoked: Set<String> = []
            for start in stride(from: 0, to: jtis.count, by: storeBatchSize) {
                let batch = Array(jtis[start..<min(start + storeBatchSize, jtis.count)])
                let marks = Array(repeating: "?", count: batch.count).joined(separator: ",")
                revoked.formUnion(try String.fetchAll(db, sql: "SELECT jti FROM revoked_tokens WHERE jti IN (\(marks))",
                                                      arguments: StatementArguments(batch)))
            }
            return revoked
        }
    }

    public func activeUsers(among ids: [UserID]) async throws -> Set<UserID> {
        try await read { db in
            var active: Set<UserID> = []
            for start in stride(from: 0, to: ids.count, by: storeBatchSize) {
                let batch = ids[start..<min(start + storeBatchSize, ids.count)].map(\.rawValue)
                let marks = Array(repeating: "?", count: batch.count).joined(separator: ",")
                let found = try String.fetchAll(db, sql: "SELECT userId FROM users WHERE status = ? AND userId IN (\(marks))",
                                                arguments: StatementArguments([UserStatus.active.rawValue] + batch))
                active.formUnion(found.compactMap(UserID.init(rawValue:)))
            }
            return active
        }
    }

    public func purgeExpired(now: Date) async throws -> Int {
        try await write { db in
            let time = now.timeIntervalSince1970
            try db.execute(sql: "DELETE FROM revoked_tokens WHERE expiresAt < ?", arguments: [time])
            var removed = db.changesCount
            try db.execute(sql: "DELETE FROM rate_limits WHERE expiresAt < ?", arguments: [time])
            removed += db.changesCount
            return removed
        }
    }

    // MARK: migrations

    public func appliedMigrations() async throws -> [MigrationRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT id, appliedAt FROM migrations ORDER BY id").map {
                MigrationRecord(id: $0["id"], appliedAt: Date(timeIntervalSince1970: $0["appliedAt"]))
            }
        }
    }

    public func recordMigration(_ record: MigrationRecord) async throws {
        try await write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO migrations (id, appliedAt) VALUES (?, ?)",
                           arguments: [record.id, record.appliedAt.timeIntervalSince1970])
        }
    }

    public func countUsersWithoutUserID() async throws -> Int {
        try await read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM users WHERE userId IS NULL") ?? 0 }
    }

    public func assignMissingUserIDs(limit: Int, makeID: @Sendable () -> UserID) async throws -> Int {
        // The write finishes before this method returns, so the closure never outlives the call.
        try await withoutActuallyEscaping(makeID) { makeID in try await assign(limit: limit, makeID: makeID) }
    }

    private func assign(limit: Int, makeID: @escaping @Sendable () -> UserID) async throws -> Int {
        try await write { db in
            let rowIDs = try Int64.fetchAll(db, sql: "SELECT id FROM users WHERE userId IS NULL ORDER BY id LIMIT ?",
                                            arguments: [limit])
            for rowID in rowIDs {
                // A collision with an existing id is astronomically rare (36^8), but then draw again.
                while true {
                    let id = makeID()
                    let taken = try Bool.fetchOne(db, sql: "SELECT 1 FROM users WHERE userId = ?", arguments: [id.rawValue]) != nil
                    if taken { continue }
                    try db.execute(sql: "UPDATE users SET userId = ? WHERE id = ? AND userId IS NULL",
                                   arguments: [id.rawValue, rowID])
                    break
                }
            }
            return rowIDs.count
        }
    }

    public func insertLegacyUsers(_ users: [LegacyUser]) async throws {
        try await write { db in
            let now = Date().timeIntervalSince1970
            let statement = try db.makeStatement(sql: "INSERT INTO users (phone, name, status, createdAt) VALUES (?, ?, 'active', ?)")
            for user in users { try statement.execute(arguments: [user.phone, user.name, now]) }
        }
    }

    public func close() async {
        try? pool.close()
    }

    // MARK: plumbing

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await pool.read(body) } catch { throw Self.wrap(error) }
    }

    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await pool.write(body) } catch { throw Self.wrap(error) }
    }

    private static func wrap(_ error: any Error) -> any Error {
        if error is StoreError { return error }
        return StoreError.unavailable(describe(error))
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError { return error.message ?? "\(error.resultCode)" }
        return "\(error)"
    }

    private static func user(_ row: Row) -> User? {
        guard let idText: String = row["userId"], let userId = UserID(rawValue: idText) else { return nil }
        let lastActive: Double? = row["lastActiveAt"]
        return User(userId: userId, phone: Phone(storedDigits: row["phone"]), name: UserName(storedValue: row["name"]),
                    status: UserStatus(rawValue: row["status"]) ?? .disabled,
                    createdAt: Date(timeIntervalSince1970: row["createdAt"]),
                    lastActiveAt: lastActive.map(Date.init(timeIntervalSince1970:)))
    }

    private static func verification(_ row: Row) -> PendingVerification? {
        guard let hash: String = row["codeHash"], let expires: Double = row["codeExpiresAt"],
              let sent: Double = row["codeSentAt"]
        else { return nil }
        return PendingVerification(codeHash: hash, expiresAt: Date(timeIntervalSince1970: expires),
                                   attempts: row["codeAttempts"], sentAt: Date(timeIntervalSince1970: sent))
    }
}
