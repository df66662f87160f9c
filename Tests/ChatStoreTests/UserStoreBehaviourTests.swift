import ChatCore
import ChatStore
import Foundation
import Synchronization
import Testing
import TestSupport

/// One contract, two backends: every test runs on SQLite and on MongoDB through libmongoc
/// (against the wire stand-in), so the backends cannot drift apart.
@Suite(.mongoStandIn)
struct UserStoreBehaviourTests {
    // MARK: users

    @Test("a created user reads back by id and by phone", arguments: StoreKind.allCases)
    func createAndRead(kind: StoreKind) async throws {
        try await StoreFixture.withStore(kind) { store throws in
            let user = makeUser(phone: "79001234567", name: "Анна", lastActiveAt: at(1_700_000_100_250))
            try await store.createUser(user)

            #expect(try await store.user(id: user.userId) == user)
            #expect(try await store.user(phone: user.phone) == user)
            #expect(try await store.user(id: UserID.generate()) == nil)
            #expect(try await store.user(phone: Phone(storedDigits: "79990000000")) == nil)
        }
    }

    @Test("a taken phone or userId is a conflict naming the field", arguments: StoreKind.allCases)
    func uniqueFields(kind: StoreKind) async throws {
        try await StoreFixture.withStore(kind) { store throws in
            let first = makeUser(phone: "79001110000")
            try await store.createUser(first)

            await #expect(throws: StoreError.conflict(field: "phone")) {
                try await store.createUser(makeUser(phone: "79001110000"))
            }
            await #expect(throws: StoreError.conflict(field: "userId")) {
                try await store.createUser(makeUser(id: first.userId, phone: "79001110001"))
            }
            #expect(try await store.listUsers(UserQuery()).count == 1)
        }
    }

    @Test("of two concurrent creates of one phone exactly one succeeds", arguments: StoreKind.allCases)
    func concurrentCreates(kind: StoreKind) async throws {
        try await StoreFixture.withStore(kind) { store throws in
            for round in 0..<5 {
                let phone = "7900222000\(round)"
                let outcomes = await withTaskGroup(of: Result<Void, StoreError>.self) { group in
                    for _ in 0..<2 {
                        group.addTask {
                            do {
                                try await store.createUser(makeUser(phone: phone))
                                return .success(())
                            } catch let error as StoreError {
                                return .failure(error)
                            } catch {
                                return .failure(.invalid("unexpected \(error)"))
                            }
                        }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                let failures = outcomes.compactMap { outcome -> StoreError? in
                    if case .failure(let error) = outcome { return error }
                    return nil
                }
                #expect(failures == [.conflict(field: "phone")], "round \(round)")
            }
            #expect(try await store.listUsers(UserQuery()).count == 5)
        }
    }

    @Test("listing filters by phone prefix and status, orders by creation and honours the limit",
          arguments: StoreKind.allCases)
    func listing(kind: StoreKind) async throws {
        try await StoreFixture.withStore(kind) { store throws in
            let users = [
                makeUser(phone: "79005550003", createdAt: at(1_700_000_000_003)),
                makeUser(phone: "79005550001", createdAt: at(1_700_000_000_001)),
                makeUser(phone: "79015550002", status: .disabled, createdAt: at(1_700_000_000_002)),
                makeUser(phone: "79005550004", status: .disabled, createdAt: at(1_700_000_000_004)),
            ]
            for user in users { try await store.createUser(user) }
            // The seed's users without a userId are not users yet and never listed.
            try await store.insertLegacyUsers([LegacyUser(phone: "79005559999", name: "legacy")])

            let all = try await store.listUsers(UserQuery())
            #expect(all.map(\.phone.digits) == ["79005550001", "79015550002", "79005550003", "79005550004"])

            let prefixed = try await store.listUsers(UserQuery(phonePrefix: "7900"))
            #expect(prefixed.map(\.phone.digits) == ["79005550001", "79005550003", "79005550004"])

            let disabled = try await store.listUsers(UserQuery(status: .disabled))
            #expect(disabled.map(\.phone.digits) == ["79015550002", "79005550004"])

            let both = try await store.listUsers(UserQuery(phonePrefix: "7900", status: .active))
            #expect(both.map(\.phone.digits) == ["79005550001", "79005550003"])

            let limited = try await store.listUsers(UserQuery(limit: 2))
            #expect(limited.map(\.phone.digits) == ["79005550001", "79015550002"])

            // A prefix is a literal, never a pattern.
            #expect(try await store.listUsers(UserQuery(phonePrefix: ".*")).isEmpty)
        }
    }

    @Test("a name search matches part of a name in any letter case, Cyrillic too, and treats the text literally",
          arguments: StoreKind.allCases)
    func nameSearch(kind: StoreKind) async throws {
        try await StoreFixture.withStore(kind) { store throws in
            try await store.createUser(makeUser(phone: "79006660001", name: "Анна Каренина", createdAt: at(1_700_000_000_001)))
            try await store.createUser(makeUser(phone: "79006660002", name: "Joanna Smith", createdAt: at(1_700_000_000_002)))
            try await store.createUser(makeUser(phone: "79006660003", name: "Ann (admin)", status: .disabled,
                                                createdAt: at(1_700_000_000_003)))
            try await store.createUser(makeUser(phone: "79006660004", name: "Bob", createdAt: at(1_700_000_000_004)))

            #expect(try await store.listUsers(UserQuery(nameContains: "анна")).map(\.phone.digits) == ["79006660001"])
            #expect(try await store.listUsers(UserQuery(nameContains: "ANN")).map(\.phone.digits)
                == ["79006660002", "79006660003"])
            #expect(try await store.listUsers(UserQuery(nameContains: "ann", status: .active)).map(\.phone.digits)
                == ["79006660002"])
            #expect(try await store.listUsers(UserQuery(nameContains: "(admin)")).map(\.phone.digits) == ["79006660003"])
            #expect(try await store.listUsers(UserQuery(nameContains: ".*")).isEmpty)
            #expect(try await store.listUsers(UserQuery(nameContains: "%")).isEmpty)
        }
    }

    @Test("rename, disable, enable and delete change the user; unknown ids are notFound",
          arguments: StoreKind.allCases)
    func lifecycle(kind: StoreKind) async throws {
        try await StoreFixture.withStore(kind) { store throws in
            let user = makeUser(phone: "79003330000", name: "Old")
            try await store.createUser(user)

            let renamed = try await store.renameUser(id: user.userId, to: UserName(validating: "New"))
            #expect(renamed.name.value == "New")
            #expect(try await store.user(id: user.userId)?.name.value == "New")

            #expect(try await store.setStatus(id: user.userId, to: .disabled).status == .disabled)
            #expect(try await store.user(id: user.userId)?.status == .disabled)
            #expect(try await store.setStatus(id: user.userId, to: .active).status == .active)
            #expect(try await store.user(phone: user.phone)?.status == .active)

            try await store.touchLastActive(id: user.userId, at: at(1_700_000_500_000))
            #expect(try await store.user(id: user.userId)?.lastActiveAt == at(1_700_000_500_000))

            let stranger = UserID.generate()
            await #expect(throws: StoreError.notFound) {
                try await store.renameUser(id: stranger, to: UserName(validating: "X"))
            }
            await #expect(throws: StoreError.notFound) { try await store.setStatus(id: stranger, to: .disabled) }
            await #expect(throws: StoreError.notFound) { try await store.deleteUser(id: stranger) }

            try await store.deleteUser(id: user.userId)
            #expect(try await store.user(id: user.userId) == nil)
            #expect(try await store.user(phone: user.phone) == nil)
            await #expect(throws: StoreError.notFound) { try await store.deleteUser(id: user.userId) }
        }
    }

    // MARK: one-time codes

    @Test("a code is issued once per cooldown, even by concurrent requests", arguments: StoreKind.allCases)
    func issueWithCooldown(kind: StoreKind) async throws {
        try await StoreFixture.withStore(kind) { store throws in
            let user = makeUser(phone: "79004440000")
            try await store.createUser(user)
            let sentAt = at(1_700_000_000_000)

            let wins = await concurrently(2) { index in
                (try? await store.issueVerification(
                    id: user.userId, verification(hash: "hash-\(index)", sentAt: sentAt),
                    cooldownSince: sentAt.addingTimeInterval(-60))) ?? false
            }
            #expect(wins.filter { $0 }.count == 1)
            let stored = try #require(try await store.verification(id: user.userId))
            #expect(["hash-0", "hash-1"].contains(stored.codeHash))
            #expect(stored.attempts == 0)
            #expect(stored.sentAt == sentAt)
            #expect(stored.expiresAt == sentAt.addingTimeInterval(300))

            // Still inside the cooldown: refused. After it: a new code replaces the old one.
            let later = sentAt.addingTimeInterval(30)
            #expect(try await !store.issueVerification(id: user.userId, verification(hash: "early", sentAt: later),
                                                       cooldownSince: later.addingTimeInterval(-60)))
            let afterCooldown = sentAt.addingTimeInterval(61)
            #expect(try await store.issueVerification(
                id: user.userId, verification(hash: "fresh", sentAt: afterCooldown),
                cooldownSince: afterCooldown.addingTimeInterval(-60)))
            #expect(try await store.verification(id: user.userId)?.codeHash == "fresh")

            // Nobody to send to.
            #expect(try await !store.issueVerification(id: UserID.generate(), verification(hash: "x", sentAt: sentAt),
                                                       cooldownSince: sentAt))
        }
    }

    @Test("ten parallel attempts against a limit of five count exactly five", arguments: StoreKind.allCases)
    func attemptCounting(kind: StoreKind) async throws {
        try await StoreFixture.withStore(kind) { store throws in
            let user = makeUser(phone: "79004450000")
            try await store.createUser(user)
            let sentAt = at(1_700_000_000_000)
            #expect(try await store.issueVerification(id: user.userId, verification(hash: "h", sentAt: sentAt),
                                                      cooldownSince: sentAt))

            let counted = await concurrently(10) { _ in
                try? await store.countVerificationAttempt(id: user.userId, maxAttempts: 5)
            }
            let attempts = counted.compactMap { $0?.attempts }.sorted()
            #expect(attempts == [1, 2, 3, 4, 5])
            #expect(try await store.verification(id: user.userId)?.attempts == 5)
            #expect(try await store.countVerificationAttempt(id: user.userId, maxAttempts: 5) == nil)
            #expect(try await store.countVerificationAttempt(id: UserID.generate(), maxAttempts: 5) == nil)
        }
    }

    @Test("a code is consumed exactly once", arguments: StoreKind.allCases)
    func consumeOnce(kind: StoreKind) async throws {
        try await StoreFixture.withStore(kind) { store throws in
            let user = makeUser(phone: "79004460000")
            try await store.createUser(user)
            let sentAt = at(1_700_000_000_000)
            #expect(try await store.issueVerification(id: user.userId, verification(hash: "right", sentAt: sentAt),
                                                      cooldownSince: sentAt))

            #expect(try await !store.consumeVerification(id: user.userId, codeHash: "wrong"))
            let consumed = await concurrently(5) { _ in
                (try? await store.consumeVerification(id: user.userId, codeHash: "right")) ?? false
            }
            #expect(consumed.filter { $0 }.count == 1)
            #expect(try await store.verification(id: user.userId) == nil)
            #expect(try await store.countVerificationAttempt(id: user.userId, maxAttempts: 5) == nil)

            // The cooldown clock survives the consumed code.
            #expect(try await !store.issueVerification(
                id: user.userId, verification(hash: "again", sentAt: sentAt.addingTimeInterval(10)),
                cooldownSince: sentAt.addingTimeInterval(-50)))
        }
    }

    // MARK: counters and revocations

    @Test("a counter counts every concurrent hit in its window", arguments: StoreKind.allCases)
    func counters(kind: StoreKind) async throws {
        try await StoreFixture.withStore(kind) { store throws in
            let window = at(1_700_000_000_000)
            let expires = Date().addingTimeInterval(3600)
            let counts = await concurrently(10) { _ in
                (try? await store.incrementCounter(key: "phone:79001234567", windowStart: window, expiresAt: expires)) ?? -1
            }
            #expect(counts.sorted() == Array(1...10))
            #expect(try await store.incrementCounter(key: "phone:79001234567", windowStart: window.addingTimeInterval(60),
                                                     expiresAt: expires) == 1)
            #expect(try await store.incrementCounter(key: "ip:127.0.0.1", windowStart: window, expiresAt: expires) == 1)
        }
    }

    @Test("a released hit no longer counts, and a counter never goes below zero", arguments: StoreKind.allCases)
    func releasedCounter(kind: StoreKind) async throws {
        try await StoreFixture.withStore(kind) { store throws in
            let window = at(1_700_000_000_000)
            let expires = Date().addingTimeInterval(3600)
            try await store.releaseCounter(key: "verify:phone:1", windowStart: window)
            #expect(try await store.incrementCounter(key: "verify:phone:1", windowStart: window, expiresAt: expires) == 1)
            #expect(try await store.incrementCounter(key: "verify:phone:1", windowStart: window, expiresAt: expires) == 2)
            _ = await concurrently(5) { _ in try? await store.releaseCounter(key: "verify:phone:1", windowStart: window) }
            #expect(try await store.incrementCounter(key: "verify:phone:1", windowStart: window, expiresAt: expires) == 1)
        }
    }

    @Test("revoked tokens stay revoked until purged after they expire", arguments: StoreKind.allCases)
    func revocation(kind: StoreKind) async throws {
        try await StoreFixture.withStore(kind) { store throws in
            // Times in the future, so a server-side TTL cannot remove anything before purgeExpired does.
            let now = Date()
            let soon = now.addingTimeInterval(3600)
            let later = now.addingTimeInterval(7200)
            try await store.revokeToken(jti: "jti-soon", expiresAt: soon)
            try await store.revokeToken(jti: "jti-later", expiresAt: later)
            try await store.revokeToken(jti: "jti-later", expiresAt: later)
            _ = try await store.incrementCounter(key: "k", windowStart: now, expiresAt: soon)

            #expect(try await store.isTokenRevoked(jti: "jti-soon"))
            #expect(try await store.isTokenRevoked(jti: "jti-later"))
            #expect(try await !store.isTokenRevoked(jti: "jti-other"))

            #expect(try await store.purgeExpired(now: now) == 0)
            #expect(try await store.purgeExpired(now: soon.addingTimeInterval(1)) == 2)
            #expect(try await !store.isTokenRevoked(jti: "jti-soon"))
            #expect(try await store.isTokenRevoked(jti: "jti-later"))
            #expect(try await store.incrementCounter(key: "k", windowStart: now, expiresAt: soon) == 1)
        }
    }

    @Test("the session recheck's batched reads answer exactly the revoked tokens and the active users, past one batch", arguments: StoreKind.allCases)
    func batchedSessionReads(kind: StoreKind) async throws {
        try await StoreFixture.withStore(kind) { store throws in
            // 1,200 asked of each: more than two batches, so a batch boundary dropping or doubling shows.
            let expires = Date().addingTimeInterval(3600)
            let jtis = (0..<1200).map { "jti-\($0)" }
            let revoked = Set(jtis.enumerated().filter { $0.offset % 7 == 0 }.map(\.element))
            for jti in revoked { try await store.revokeToken(jti: jti, expiresAt: expires) }
            try await store.revokeToken(jti: "jti-not-asked", expiresAt: expires)
            #expect(try await store.revokedTokens(among: jtis) == revoked)
            #expect(try await store.revokedTokens(among: []) == [])

            var users: [User] = []
            for index in 0..<30 {
                let user = makeUser(phone: "7900222\(String(format: "%04d", index))")
                try await store.createUser(user)
                users.append(user)
            }
            _ = try await store.setStatus(id: users[3].userId, to: .disabled)
            try await store.deleteUser(id: users[4].userId)
            let strangers = (0..<1170).map { _ in UserID.generate() }
            let asked = users.map(\.userId) + strangers
            let expected = Set(users.map(\.userId)).subtracting([users[3].userId, users[4].userId])
            #expect(try await store.activeUsers(among: asked.shuffled()) == expected)
            #expect(try await store.activeUsers(among: []) == [])
        }
    }

    // MARK: migrations

    @Test("the migrations ledger keeps each migration once, in id order", arguments: StoreKind.allCases)
    func ledger(kind: StoreKind) async throws {
        try await StoreFixture.withStore(kind) { store throws in
            #expect(try await store.appliedMigrations().isEmpty)
            let second = MigrationRecord(id: "0002-second", appliedAt: at(1_700_000_002_000))
            let first = MigrationRecord(id: "0001-first", appliedAt: at(1_700_000_001_000))
            try await store.recordMigration(second)
            try await store.recordMigration(first)
            try await store.recordMigration(MigrationRecord(id: "0001-first", appliedAt: at(1_700_000_009_000)))
            #expect(try await store.appliedMigrations() == [first, second])
        }
    }

    @Test("10,000 legacy users all get distinct valid ids, and a second run changes nothing",
          arguments: StoreKind.allCases)
    func legacyMigration(kind: StoreKind) async throws {
        try await StoreFixture.withStore(kind) { store throws in
            let count = 10_000
            try await store.insertLegacyUsers((0..<count).map {
                LegacyUser(phone: String(79_100_000_000 + $0), name: "user \($0)")
            })
            #expect(try await store.countUsersWithoutUserID() == count)
            #expect(try await store.listUsers(UserQuery(limit: 10)).isEmpty)

            var assigned = 0
            while true {
                let changed = try await store.assignMissingUserIDs(limit: 1000) { UserID.generate() }
                #expect(changed <= 1000)
                if changed == 0 { break }
                assigned += changed
            }
            #expect(assigned == count)
            #expect(try await store.countUsersWithoutUserID() == 0)

            let users = try await store.listUsers(UserQuery(limit: count + 1))
            #expect(users.count == count)
            #expect(Set(users.map(\.userId)).count == count)
            #expect(Set(users.map(\.phone)).count == count)
            #expect(users.allSatisfy { UserID(rawValue: $0.userId.rawValue) != nil })

            #expect(try await store.assignMissingUserIDs(limit: 1000) { UserID.generate() } == 0)
            #expect(try await store.listUsers(UserQuery(limit: count + 1)) == users)
        }
    }

    @Test("a generated id that is already taken is replaced by a fresh one", arguments: StoreKind.allCases)
    func idCollision(kind: StoreKind) async throws {
        try await StoreFixture.withStore(kind) { store throws in
            let taken = try UserID(validating: "usr_aaaaaaaa")
            try await store.createUser(makeUser(id: taken, phone: "79006660000"))
            try await store.insertLegacyUsers((1...3).map { LegacyUser(phone: "7900666000\($0)", name: "l\($0)") })

            // The first two draws collide with the existing user, then draws are fresh.
            let draws = Mutex(0)
            let changed = try await store.assignMissingUserIDs(limit: 10) {
                let draw = draws.withLock { count in
                    count += 1
                    return count
                }
                return draw <= 2 ? taken : UserID.generate()
            }
            #expect(changed == 3)
            #expect(try await store.countUsersWithoutUserID() == 0)
            let ids = try await store.listUsers(UserQuery()).map(\.userId)
            #expect(ids.count == 4)
            #expect(Set(ids).count == 4)
            #expect(try await store.user(id: taken)?.phone.digits == "79006660000")
        }
    }

    // MARK: MongoDB connection handling

    @Test("an unreachable MongoDB is reported as unavailable within seconds")
    func unreachableMongo() async throws {
        // Port 1 on loopback: nothing listens there, so the connection is refused.
        let store = try MongoUserStore(url: "mongodb://127.0.0.1:1/chatpapp")
        let started = ContinuousClock.now
        do {
            _ = try await store.user(id: UserID.generate())
            Issue.record("a store without a server answered")
        } catch let error as StoreError {
            guard case .unavailable(let why) = error else {
                Issue.record("expected unavailable, got \(error)")
                return
            }
            #expect(why.contains("127.0.0.1:1"))
        }
        #expect(ContinuousClock.now - started < .seconds(8))
        await store.close()
    }

    @Test("a bad MongoDB URL is invalid", arguments: [
        "http://127.0.0.1/chatpapp", "mongodb://", "mongodb://127.0.0.1:99999999/chatpapp", "mongodb://host/a b",
    ])
    func badMongoURL(url: String) {
        #expect {
            _ = try MongoUserStore(url: url)
        } throws: { error in
            guard case .invalid = error as? StoreError else { return false }
            return true
        }
    }

    @Test("a MongoDB store describes its location without credentials and defaults the database")
    func mongoLocation() throws {
        let store = try MongoUserStore(url: "mongodb://chat:secret@db1.example:27017,db2.example:27018/")
        #expect(store.location == "mongodb://db1.example:27017,db2.example:27018/chatpapp")
        let named = try MongoUserStore(url: "mongodb://127.0.0.1:27017/chat_prod?appname=x")
        #expect(named.location == "mongodb://127.0.0.1:27017/chat_prod")
    }
}

// MARK: helpers

/// A date on a whole millisecond, the resolution both backends keep.
private func at(_ millis: Int64) -> Date {
    Date(timeIntervalSince1970: Double(millis) / 1000)
}

private func makeUser(id: UserID = .generate(), phone: String, name: String = "Test User",
                      status: UserStatus = .active, createdAt: Date = at(1_700_000_000_000),
                      lastActiveAt: Date? = nil) -> User {
    User(userId: id, phone: Phone(storedDigits: phone), name: UserName(storedValue: name), status: status,
         createdAt: createdAt, lastActiveAt: lastActiveAt)
}

private func verification(hash: String, sentAt: Date) -> PendingVerification {
    PendingVerification(codeHash: hash, expiresAt: sentAt.addingTimeInterval(300), attempts: 0, sentAt: sentAt)
}

/// Runs `count` copies of `body` at once and collects their results.
private func concurrently<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) async -> T) async -> [T] {
    await withTaskGroup(of: T.self) { group in
        for index in 0..<count { group.addTask { await body(index) } }
        return await group.reduce(into: []) { $0.append($1) }
    }
}
