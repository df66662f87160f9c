import ChatCore
import ChatStore
import Foundation
import Logging

/// Phone login: request a code, verify it, get a token. Every limit is kept in the store with
/// atomic updates, so it holds across several chatd instances sharing one store.
public struct LoginService: Sendable {
    public let store: any UserStore
    /// The limits in effect; replaced on reload without rebuilding the service.
    public let policies: LoginPolicySwitch
    public var policy: LoginPolicy { policies.current }
    public let codes: OneTimeCode
    public let sender: any CodeSender
    public let tokens: TokenService
    let logger: Logger
    /// Called once for each user this service creates (e.g. to register it in Chat3).
    let onUserCreated: @Sendable (User) async -> Void
    let now: @Sendable () -> Date

    public init(store: any UserStore, policy: LoginPolicy, codes: OneTimeCode, sender: any CodeSender,
                tokens: TokenService, logger: Logger, onUserCreated: @escaping @Sendable (User) async -> Void = { _ in },
                now: @escaping @Sendable () -> Date = Date.init) {
        self.store = store
        policies = LoginPolicySwitch(policy)
        self.codes = codes
        self.sender = sender
        self.tokens = tokens
        self.logger = logger
        self.onUserCreated = onUserCreated
        self.now = now
    }

    /// Issues and sends a code. Creates the user only for a new phone (name required then);
    /// never renames an existing user. Returns whether the user is new.
    public func requestCode(phone phoneText: String, name nameText: String?, clientAddress: String) async throws -> Bool {
        let phone = try Phone(normalizing: phoneText)
        let newName = try nameText.map { try UserName(validating: $0) }
        let policy = self.policy
        let time = now()
        _ = try await limit("ip:\(clientAddress)", max: policy.ipHourlyLimit, at: time)

        var isNew = false
        var user = try await store.user(phone: phone)
        if user == nil {
            guard let newName else { throw AuthError.nameRequired }
            let created = User(userId: UserID.generate(), phone: phone, name: newName, createdAt: time)
            do {
                try await store.createUser(created)
                user = created
                isNew = true
                await onUserCreated(created)
            } catch StoreError.conflict {
                // Another request created this phone a moment ago: use that user.
                user = try await store.user(phone: phone)
            }
        }
        guard let user else { throw StoreError.notFound }
        guard user.status == .active else { throw AuthError.accountDisabled }
        // Only issued codes count against the phone: the hit is taken first (so concurrent requests
        // cannot pass the limit together) and given back when the cooldown refuses the request, so
        // repeated clicks cannot lock the owner out for the hour.
        let phoneHit = try await limit("phone:\(phone.digits)", max: policy.phoneHourlyLimit, at: time)

        let code = codes.generate()
        let hash = codes.hash(code, userId: user.userId)
        let pending = PendingVerification(codeHash: hash, expiresAt: time.addingTimeInterval(policy.codeLifetimeSeconds),
                                          sentAt: time)
        let issued = try await store.issueVerification(
            id: user.userId, pending, cooldownSince: time.addingTimeInterval(-policy.resendCooldownSeconds))
        guard issued else {
            try await phoneHit.release()
            let sentAt = try await store.verification(id: user.userId)?.sentAt ?? time
            let wait = sentAt.addingTimeInterval(policy.resendCooldownSeconds).timeIntervalSince(time)
            throw AuthError.cooldown(retryAfterSeconds: max(1, Int(wait.rounded(.up))))
        }
        do {
            try await sender.send(code: code, to: phone)
        } catch {
            // Leave no usable code behind when it never reached the user.
            _ = try? await store.consumeVerification(id: user.userId, codeHash: hash)
            logger.error("code delivery failed", metadata: ["user.id": "\(user.userId)", "error": "\(error)"])
            throw AuthError.senderFailed
        }
        logger.info("code issued", metadata: ["user.id": "\(user.userId)"])
        return isNew
    }

    /// Checks a code and returns a fresh token. At most `maxAttempts` tries per code, counted
    /// atomically before comparing, so parallel guesses cannot exceed the limit. Across codes, wrong
    /// codes are limited per phone and per client address per hour: each attempt takes a hit before
    /// comparing and a correct code gives it back, so only failures stay counted.
    public func verifyCode(phone phoneText: String, code: String, clientAddress: String) async throws -> (token: String, user: User) {
        let phone = try Phone(normalizing: phoneText)
        guard codes.isWellFormed(code) else { throw AuthError.invalidCode }
        let policy = self.policy
        let time = now()
        // An unknown phone keeps its hit on the address: probing phones is guessing too.
        let addressHit = try await limit("verify:ip:\(clientAddress)", max: policy.verifyIPHourlyLimit, at: time)
        guard let user = try await store.user(phone: phone) else { throw AuthError.invalidCode }
        let phoneHit: CounterHit
        do {
            phoneHit = try await limit("verify:phone:\(phone.digits)", max: policy.verifyPhoneHourlyLimit, at: time)
        } catch {
            try? await addressHit.release()
            throw error
        }
        // Only a compared wrong code stays counted; everything refused before comparing gives its hits back.
        func giveHitsBack() async {
            try? await phoneHit.release()
            try? await addressHit.release()
        }
        guard user.status == .active else {
            await giveHitsBack()
            throw AuthError.accountDisabled
        }
        guard let pending = try await store.verification(id: user.userId) else {
            await giveHitsBack()
            throw AuthError.invalidCode
        }
        guard pending.expiresAt > time else {
            await giveHitsBack()
            throw AuthError.codeExpired
        }
        guard let counted = try await store.countVerificationAttempt(id: user.userId, maxAttempts: policy.maxAttempts) else {
            await giveHitsBack()
            throw AuthError.tooManyAttempts
        }
        guard codes.matches(code, userId: user.userId, storedHash: counted.codeHash) else {
            logger.info("wrong code", metadata: ["user.id": "\(user.userId)", "auth.attempts": "\(counted.attempts)"])
            throw counted.attempts >= policy.maxAttempts ? AuthError.tooManyAttempts : AuthError.invalidCode
        }
        // The right code: whether this call or a concurrent one consumes it, it was no failure.
        await giveHitsBack()
        guard try await store.consumeVerification(id: user.userId, codeHash: counted.codeHash) else {
            throw AuthError.invalidCode
        }
        try await store.touchLastActive(id: user.userId, at: time)
        let token = try await tokens.mint(for: user, now: time)
        logger.info("login", metadata: ["user.id": "\(user.userId)"])
        return (token, user)
    }

    /// One hit counted against a limit, which can be given back when it turned out not to count.
    struct CounterHit {
        let store: any UserStore
        let key: String
        let windowStart: Date

        func release() async throws { try await store.releaseCounter(key: key, windowStart: windowStart) }
    }

    /// Fixed one-hour windows; the answer says when the window ends. A refused hit is given back at
    /// once, so being refused never extends a lockout.
    private func limit(_ key: String, max maximum: Int, at time: Date) async throws -> CounterHit {
        let window = 3600.0
        let start = Date(timeIntervalSince1970: (time.timeIntervalSince1970 / window).rounded(.down) * window)
        let end = start.addingTimeInterval(window)
        let hit = CounterHit(store: store, key: key, windowStart: start)
        let count = try await store.incrementCounter(key: key, windowStart: start, expiresAt: end)
        if count > maximum {
            try await hit.release()
            throw AuthError.rateLimited(retryAfterSeconds: max(1, Int(end.timeIntervalSince(time).rounded(.up))))
        }
        return hit
    }
}
