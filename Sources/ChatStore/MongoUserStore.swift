import ChatCore
import Foundation
import Synchronization

/// Users in MongoDB, through libmongoc: for several chatd instances sharing one database.
///
/// Collections `users`, `migrations`, `revoked_tokens` and `rate_limits` live in the URL's database
/// (default `chatpapp`). Every atomic operation is one conditional write on the server (`update` with a
/// filter, or `findAndModify`), so concurrent chatd instances cannot interleave a read and a write.
/// Queries are built from typed values only: user input is never a key or an operator.
public final class MongoUserStore: UserStore, LegacyUserSeeding {
    private let connection: MongoConnection
    private let schema = Schema()
    public var location: String { connection.url.location }

    /// Checks the URL; connects lazily, on the first call, so an unreachable server is reported there.
    public init(url: String) throws(StoreError) {
        connection = try MongoConnection(url: try MongoURL(url))
    }

    public func close() async {
        await connection.close()
    }

    // MARK: users

    public func createUser(_ user: User) async throws {
        try await perform { session throws(StoreError) in
            let reply = try session.command(
                ["insert": .string(Collection.users), "documents": .array([.document(Self.document(user))])],
                write: true)
            try MongoSession.checkWriteErrors(reply)
        }
    }

    public func user(id: UserID) async throws -> User? {
        try await findUser(["userId": .string(id.rawValue)])
    }

    public func user(phone: Phone) async throws -> User? {
        try await findUser(["phone": .string(phone.digits)])
    }

    private func findUser(_ filter: BSONDocument) async throws -> User? {
        try await perform { session throws(StoreError) in
            try session.find(Collection.users, filter: filter, limit: 1).first.flatMap(Self.user)
        }
    }

    public func listUsers(_ query: UserQuery) async throws -> [User] {
        guard query.limit > 0 else { return [] }
        var filter: BSONDocument = ["userId": .document(["$exists": true])]
        if let prefix = query.phonePrefix {
            filter["phone"] = .document(["$regex": .string("^" + Self.escapeRegex(prefix))])
        }
        if let text = query.nameContains {
            filter["name"] = .document(["$regex": .string(Self.escapeRegex(text)), "$options": "i"])
        }
        if let status = query.status {
            filter["status"] = .string(status.rawValue)
        }
        return try await perform { [filter] session throws(StoreError) in
            try session.find(Collection.users, filter: filter, sort: ["createdAt": 1, "userId": 1],
                             limit: query.limit).compactMap(Self.user)
        }
    }

    public func renameUser(id: UserID, to name: UserName) async throws -> User {
        try await updateUser(id: id, ["$set": .document(["name": .string(name.value)])])
    }

    public func setStatus(id: UserID, to status: UserStatus) async throws -> User {
        try await updateUser(id: id, ["$set": .document(["status": .string(status.rawValue)])])
    }

    private func updateUser(id: UserID, _ update: BSONDocument) async throws -> User {
        let reply = try await perform { session throws(StoreError) in
            try session.command([
                "findAndModify": .string(Collection.users),
                "query": .document(["userId": .string(id.rawValue)]),
                "update": .document(update),
                "new": true,
            ], write: true)
        }
        guard let document = reply["value"]?.documentValue, let user = Self.user(document) else {
            throw StoreError.notFound
        }
        return user
    }

    public func deleteUser(id: UserID) async throws {
        let removed = try await perform { session throws(StoreError) in
            try Self.delete(session, from: Collection.users, ["userId": .string(id.rawValue)], one: true)
        }
        guard removed == 1 else { throw StoreError.notFound }
    }

    public func touchLastActive(id: UserID, at date: Date) async throws {
        _ = try await updateMatching(Collection.users, ["userId": .string(id.rawValue)],
                                     ["$set": .document(["lastActiveAt": .date(date)])])
    }

    // MARK: one-time codes

    public func issueVerification(id: UserID, _ verification: PendingVerification,
                                  cooldownSince: Date) async throws -> Bool {
        // Matches only when no code was sent inside the cooldown, so of two racing calls one matches.
        let filter: BSONDocument = [
            "userId": .string(id.rawValue),
            "$or": .array([
                .document(["verification.sentAt": .document(["$exists": false])]),
                .document(["verification.sentAt": .document(["$lte": .date(cooldownSince)])]),
            ]),
        ]
        let pending: BSONDocument = [
            "codeHash": .string(verification.codeHash),
            "expiresAt": .date(verification.expiresAt),
            "attempts": .int64(Int64(verification.attempts)),
            "sentAt": .date(verification.sentAt),
        ]
        let matched = try await updateMatching(Collection.users, filter,
                                               ["$set": .document(["verification": .document(pending)])])
        return matched == 1
    }

    public func verification(id: UserID) async throws -> PendingVerification? {
        try await perform { session throws(StoreError) in
            try session.find(Collection.users, filter: ["userId": .string(id.rawValue)],
                             projection: ["verification": 1], limit: 1)
                .first.flatMap(Self.verification)
        }
    }

    public func countVerificationAttempt(id: UserID, maxAttempts: Int) async throws -> PendingVerification? {
        let reply = try await perform { session throws(StoreError) in
            try session.command([
                "findAndModify": .string(Collection.users),
                "query": .document([
                    "userId": .string(id.rawValue),
                    "verification.codeHash": .document(["$exists": true]),
                    "verification.attempts": .document(["$lt": .int64(Int64(maxAttempts))]),
                ]),
                "update": .document(["$inc": .document(["verification.attempts": 1])]),
                "new": true,
                "fields": .document(["verification": 1]),
            ], write: true)
        }
        return reply["value"]?.documentValue.flatMap(Self.verification)
    }

    public func consumeVerification(id: UserID, codeHash: String) async throws -> Bool {
        // The cooldown clock (sentAt) stays, so consuming a code does not open a resend loophole.
        let matched = try await updateMatching(
            Collection.users,
            ["userId": .string(id.rawValue), "verification.codeHash": .string(codeHash)],
            [
                "$unset": .document(["verification.codeHash": "", "verification.expiresAt": ""]),
                "$set": .document(["verification.attempts": .int64(0)]),
            ])
        return matched == 1
    }

    // MARK: rate limits and revocations

    public func incrementCounter(key: String, windowStart: Date, expiresAt: Date) async throws -> Int {
        let windowKey = "\(key)@\(Int(windowStart.timeIntervalSince1970))"
        let command: BSONDocument = [
            "findAndModify": .string(Collection.rateLimits),
            "query": .document(["_id": .string(windowKey)]),
            "update": .document([
                "$inc": .document(["count": .int64(1)]),
                "$setOnInsert": .document(["expiresAt": .date(expiresAt)]),
            ]),
            "upsert": true,
            "new": true,
        ]
        let reply = try await perform { session throws(StoreError) in
            do throws(StoreError) {
                return try session.command(command, write: true)
            } catch .conflict {
                // Two first hits can both try to insert; the loser's retry finds the document and increments it.
                return try session.command(command, write: true)
            }
        }
        guard let count = reply.value(at: "value.count")?.intValue else {
            throw StoreError.invalid("counter \(key) has no count")
        }
        return count
    }

    public func releaseCounter(key: String, windowStart: Date) async throws {
        let windowKey = "\(key)@\(Int(windowStart.timeIntervalSince1970))"
        _ = try await updateMatching(Collection.rateLimits,
                                     ["_id": .string(windowKey), "count": .document(["$gt": .int64(0)])],
                                     ["$inc": .document(["count": .int64(-1)])])
    }

    public func revokeToken(jti: String, expiresAt: Date) async throws {
        _ = try await updateMatching(Collection.revokedTokens, ["_id": .string(jti)],
                                     ["$set": .document(["expiresAt": .date(expiresAt)])], upsert: true)
    }

    public func isTokenRevoked(jti: String) async throws -> Bool {
        try await perform { session throws(StoreError) in
            !(try session.find(Collection.revokedTokens, filter: ["_id": .string(jti)], limit: 1).isEmpty)
        }
    }

    public func revokedTokens(among jtis: [String]) async throws -> Set<String> {
        try await perform { session throws(StoreError) in
            var revoked: Set<String> = []
            for start in stride(from: 0, to: jtis.count, by: storeBatchSize) {
                let batch = jtis[start..<min(start + storeBatchSize, jtis.count)].map { BSONValue.string($0) }
                let found = try session.find(Collection.revokedTokens, filter: ["_id": .document(["$in": .array(batch)])],
                                             projection: ["_id": .int32(1)])
                revoked.formUnion(found.compactMap { $0["_id"]?.stringValue })
            }
            return revoked
        }
    }

    public func activeUsers(among ids: [UserID]) async throws -> Set<UserID> {
        try await perform { session throws(StoreError) in
            var active: Set<UserID> = []
            for start in stride(from: 0, to: ids.count, by: storeBatchSize) {
                let batch = ids[start..<min(start + storeBatchSize, ids.count)].map { BSONValue.string($0.rawValue) }
                let filter: BSONDocument = ["userId": .document(["$in": .array(batch)]),
                                            "status": .string(UserStatus.active.rawValue)]
                let found = try session.find(Collection.users, filter: filter, projection: ["userId": .int32(1)])
                active.formUnion(found.compactMap { $0["userId"]?.stringValue.flatMap(UserID.init(rawValue:)) })
            }
            return active
        }
    }

    public func purgeExpired(now: Date) async throws -> Int {
        try await perform { session throws(StoreError) in
            let expired: BSONDocument = ["expiresAt": .document(["$lt": .date(now)])]
            return try Self.delete(session, from: Collection.revokedTokens, expired, one: false)
                + Self.delete(session, from: Collection.rateLimits, expired, one: false)
        }
    }

    // MARK: migrations

    public func appliedMigrations() async throws -> [MigrationRecord] {
        try await perform { session throws(StoreError) in
            try session.find(Collection.migrations, filter: [:], sort: ["_id": 1]).compactMap { document in
                guard let id = document["_id"]?.stringValue, let appliedAt = document["appliedAt"]?.dateValue else {
                    return nil
                }
                return MigrationRecord(id: id, appliedAt: appliedAt)
            }
        }
    }

    public func recordMigration(_ record: MigrationRecord) async throws {
        // Recording twice keeps the first date, like the SQLite ledger's INSERT OR IGNORE.
        _ = try await updateMatching(Collection.migrations, ["_id": .string(record.id)],
                                     ["$setOnInsert": .document(["appliedAt": .date(record.appliedAt)])],
                                     upsert: true)
    }

    public func countUsersWithoutUserID() async throws -> Int {
        try await perform { session throws(StoreError) in
            let reply = try session.command(
                ["count": .string(Collection.users), "query": .document(["userId": .document(["$exists": false])])],
                write: false)
            return reply["n"]?.intValue ?? 0
        }
    }

    /// One `update` command per round gives a batch of users their ids; a statement that hit a taken id
    /// (duplicate key) is retried with a fresh one. The filter keeps `userId` absent, so a user that another
    /// instance just migrated is left alone. Ids are drawn here, not on the Mongo queue, so `makeID` never
    /// escapes this call.
    public func assignMissingUserIDs(limit: Int, makeID: @Sendable () -> UserID) async throws -> Int {
        guard limit > 0 else { return 0 }
        var pending = try await perform { session throws(StoreError) in
            try session.find(Collection.users, filter: ["userId": .document(["$exists": false])],
                             sort: ["_id": 1], projection: ["_id": 1], limit: limit).compactMap { $0["_id"] }
        }
        var assigned = 0
        var rounds = 0
        while !pending.isEmpty {
            rounds += 1
            guard rounds <= 10 else { throw StoreError.unavailable("could not find free user ids after 10 tries") }
            let statements: [BSONValue] = pending.map { objectID in
                .document([
                    "q": .document(["_id": objectID, "userId": .document(["$exists": false])]),
                    "u": .document(["$set": .document(["userId": .string(makeID().rawValue)])]),
                ])
            }
            let reply = try await perform { session throws(StoreError) in
                try session.command(
                    ["update": .string(Collection.users), "updates": .array(statements), "ordered": false],
                    write: true)
            }
            assigned += reply["n"]?.intValue ?? 0
            var retry: [BSONValue] = []
            for error in reply["writeErrors"]?.arrayValue?.compactMap(\.documentValue) ?? [] {
                guard error["code"]?.intValue == MongoSession.duplicateKey,
                      MongoSession.duplicateField(error) == "userId",
                      let index = error["index"]?.intValue, pending.indices.contains(index)
                else { throw MongoSession.writeError(error) }
                retry.append(pending[index])
            }
            pending = retry
        }
        return assigned
    }

    public func insertLegacyUsers(_ users: [LegacyUser]) async throws {
        let now = Date()
        for start in stride(from: 0, to: users.count, by: 1000) {
            let batch = users[start..<min(start + 1000, users.count)].map { user -> BSONValue in
                .document([
                    "phone": .string(user.phone),
                    "name": .string(user.name),
                    "status": .string(UserStatus.active.rawValue),
                    "createdAt": .date(now),
                ])
            }
            try await perform { session throws(StoreError) in
                let reply = try session.command(
                    ["insert": .string(Collection.users), "documents": .array(batch), "ordered": true], write: true)
                try MongoSession.checkWriteErrors(reply)
            }
        }
    }

    // MARK: plumbing

    private enum Collection {
        static let users = "users"
        static let migrations = "migrations"
        static let revokedTokens = "revoked_tokens"
        static let rateLimits = "rate_limits"
    }

    /// Runs `body` on the Mongo queue, after making sure the indexes exist.
    private func perform<T: Sendable>(_ body: @escaping @Sendable (MongoSession) throws(StoreError) -> T) async throws -> T {
        try await connection.run { [schema] session throws(StoreError) in
            try schema.ensure(session)
            return try body(session)
        }
    }

    /// An `update` of one document; returns how many matched (or were upserted).
    private func updateMatching(_ collection: String, _ filter: BSONDocument, _ update: BSONDocument,
                                upsert: Bool = false) async throws -> Int {
        try await perform { session throws(StoreError) in
            let reply = try session.command([
                "update": .string(collection),
                "updates": .array([.document(["q": .document(filter), "u": .document(update), "upsert": .bool(upsert)])]),
            ], write: true)
            try MongoSession.checkWriteErrors(reply)
            return reply["n"]?.intValue ?? 0
        }
    }

    private static func delete(_ session: MongoSession, from collection: String, _ filter: BSONDocument,
                               one: Bool) throws(StoreError) -> Int {
        let reply = try session.command([
            "delete": .string(collection),
            "deletes": .array([.document(["q": .document(filter), "limit": .int32(one ? 1 : 0)])]),
        ], write: true)
        try MongoSession.checkWriteErrors(reply)
        return reply["n"]?.intValue ?? 0
    }

    /// Creates the indexes once per store (`createIndexes` is idempotent, so a race only repeats it).
    private final class Schema: Sendable {
        private let ready = Mutex(false)

        func ensure(_ session: MongoSession) throws(StoreError) {
            guard !ready.withLock({ $0 }) else { return }
            try createIndexes(session, on: Collection.users, [
                // Partial, so the seed's users without a userId do not collide on a missing value.
                ["key": .document(["userId": 1]), "name": "userId_1", "unique": true,
                 "partialFilterExpression": .document(["userId": .document(["$exists": true])])],
                ["key": .document(["phone": 1]), "name": "phone_1", "unique": true],
                ["key": .document(["createdAt": 1, "userId": 1]), "name": "createdAt_1_userId_1"],
            ])
            // TTL indexes let the server drop what purgeExpired would; purgeExpired still works without them.
            try createIndexes(session, on: Collection.revokedTokens, [
                ["key": .document(["expiresAt": 1]), "name": "expiresAt_1", "expireAfterSeconds": 0],
            ])
            try createIndexes(session, on: Collection.rateLimits, [
                ["key": .document(["expiresAt": 1]), "name": "expiresAt_1", "expireAfterSeconds": 0],
            ])
            ready.withLock { $0 = true }
        }

        private func createIndexes(_ session: MongoSession, on collection: String,
                                   _ indexes: [BSONDocument]) throws(StoreError) {
            do throws(StoreError) {
                _ = try session.command(
                    ["createIndexes": .string(collection), "indexes": .array(indexes.map(BSONValue.document))],
                    write: true)
            } catch .conflict(let field) {
                throw .invalid("existing users share a \(field); the unique index on \(field) cannot be built")
            }
        }
    }

    // MARK: documents

    private static func document(_ user: User) -> BSONDocument {
        var document: BSONDocument = [
            "userId": .string(user.userId.rawValue),
            "phone": .string(user.phone.digits),
            "name": .string(user.name.value),
            "status": .string(user.status.rawValue),
            "createdAt": .date(user.createdAt),
        ]
        if let lastActiveAt = user.lastActiveAt { document["lastActiveAt"] = .date(lastActiveAt) }
        return document
    }

    /// A stored user, or nil for a row that is not one yet (the seed's users without a userId).
    private static func user(_ document: BSONDocument) -> User? {
        guard let idText = document["userId"]?.stringValue, let userId = UserID(rawValue: idText),
              let phone = document["phone"]?.stringValue, let name = document["name"]?.stringValue,
              let createdAt = document["createdAt"]?.dateValue
        else { return nil }
        return User(userId: userId, phone: Phone(storedDigits: phone), name: UserName(storedValue: name),
                    // An unknown status fails closed.
                    status: document["status"]?.stringValue.flatMap(UserStatus.init(rawValue:)) ?? .disabled,
                    createdAt: createdAt, lastActiveAt: document["lastActiveAt"]?.dateValue)
    }

    private static func verification(_ document: BSONDocument) -> PendingVerification? {
        guard let pending = document["verification"]?.documentValue,
              let codeHash = pending["codeHash"]?.stringValue,
              let expiresAt = pending["expiresAt"]?.dateValue,
              let sentAt = pending["sentAt"]?.dateValue
        else { return nil }
        return PendingVerification(codeHash: codeHash, expiresAt: expiresAt,
                                   attempts: pending["attempts"]?.intValue ?? 0, sentAt: sentAt)
    }

    /// A literal prefix for `$regex`: every character that means something to PCRE is escaped.
    static func escapeRegex(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character.isLetter || character.isNumber || character == " " {
                escaped.append(character)
            } else {
                escaped.append("\\")
                escaped.append(character)
            }
        }
        return escaped
    }
}
