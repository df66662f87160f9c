import ChatCore
import ChatStore
import Foundation
import JWTKit

/// The claims chatd puts in a token: the seed's `{userId, phone}` plus `iat`, `exp` and `jti`.
public struct SessionClaims: JWTPayload, Equatable {
    public var userId: String
    public var phone: String
    public var iat: IssuedAtClaim
    public var exp: ExpirationClaim
    public var jti: IDClaim

    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }
}

/// Issues and checks JWTs. chatd's HTTP middleware, its Socket.IO handshake and chatctl all use
/// `authenticate`, so a token is accepted or refused the same way everywhere.
///
/// Accepted tokens are remembered for `recheckInterval` (see `AcceptedTokenCache`): within it a repeated
/// token costs a dictionary lookup, not an HMAC and two store reads. Copies of a `TokenService` share that
/// memory, so a logout through one copy is refused by all of them at once.
public struct TokenService: Sendable {
    public static let algorithm = "HS256"
    /// How long an accepted token is trusted before the store is asked again: the most by which this
    /// process can be late to see a revocation or a disabled user written by another process.
    public static let defaultRecheckInterval: Duration = .seconds(1)
    private let keys: JWTKeyCollection
    public let lifetimeSeconds: Double
    private let store: any UserStore
    private let accepted: AcceptedTokenCache
    private let clock: TokenClock

    /// `recheckInterval` `.zero` checks every token in full against the store every time.
    public init(secret: String, lifetimeSeconds: Double, store: any UserStore,
                recheckInterval: Duration = TokenService.defaultRecheckInterval,
                cacheCapacity: Int = 10_000, clock: TokenClock = .system) async {
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: Data(secret.utf8)), digestAlgorithm: .sha256)
        self.lifetimeSeconds = lifetimeSeconds
        self.store = store
        self.clock = clock
        accepted = AcceptedTokenCache(lifetime: recheckInterval, capacity: cacheCapacity, clock: clock)
    }

    /// How long an accepted token is trusted before it is checked against the store again.
    public var recheckInterval: Duration { accepted.lifetime }

    public func mint(for user: User, lifetimeSeconds: Double? = nil, now exact: Date = Date()) async throws -> String {
        // Whole seconds, as every JWT library writes NumericDate.
        let now = Date(timeIntervalSince1970: exact.timeIntervalSince1970.rounded(.down))
        let claims = SessionClaims(
            userId: user.userId.rawValue, phone: user.phone.digits,
            iat: IssuedAtClaim(value: now),
            exp: ExpirationClaim(value: now.addingTimeInterval(lifetimeSeconds ?? self.lifetimeSeconds)),
            jti: IDClaim(value: UUID().uuidString.lowercased()))
        return try await keys.sign(claims, header: ["typ": "JWT"])
    }

    /// Signature, pinned algorithm and expiry only; no store access.
    public func verifySignature(_ token: String) async throws(AuthError) -> SessionClaims {
        guard Self.headerAlgorithm(token) == Self.algorithm else {
            throw .invalidToken("algorithm must be \(Self.algorithm)")
        }
        do {
            return try await keys.verify(token, as: SessionClaims.self)
        } catch let error as JWTError {
            if case .claimVerificationFailure = error.errorType { throw .invalidToken("expired") }
            throw .invalidToken("signature or claims invalid")
        } catch {
            throw .invalidToken("malformed")
        }
    }

    /// The full check: signature, algorithm, expiry, revocation, and an active user. A token accepted
    /// less than `recheckInterval` ago is answered from memory (its expiry still checked); see the type.
    public func authenticate(_ token: String) async throws -> (User, SessionClaims) {
        if let hit = accepted.lookup(token) { return hit }
        let claims = try await verifySignature(token)
        guard claims.exp.value > clock.date() else { throw AuthError.invalidToken("expired") }
        guard let userId = UserID(rawValue: claims.userId) else { throw AuthError.invalidToken("bad userId claim") }
        let checkStarted = clock.instant()
        if try await store.isTokenRevoked(jti: claims.jti.value) { throw AuthError.revoked }
        guard let user = try await store.user(id: userId) else { throw AuthError.unknownUser }
        guard user.status == .active else { throw AuthError.accountDisabled }
        accepted.insert(token, user: user, claims: claims, checkStarted: checkStarted)
        return (user, claims)
    }

    /// Revokes a token until it would have expired anyway. This process refuses it from the moment this is
    /// called; other processes once their `recheckInterval` has passed.
    public func revoke(_ claims: SessionClaims) async throws {
        accepted.revoking(jti: claims.jti.value)
        defer { accepted.revoked(jti: claims.jti.value) }
        try await store.revokeToken(jti: claims.jti.value, expiresAt: claims.exp.value)
    }

    /// Makes the next check of any token of `userId` read the store, so a disable or delete this process
    /// learns about (for instance `chatctl user disable` asking chatd to kick the user) is enforced at once
    /// instead of within `recheckInterval`.
    public func forget(user userId: UserID) {
        accepted.forget(user: userId.rawValue)
    }

    /// Of `jtis`, the revoked ones, read from the store now, never from the cache, in a few queries: for
    /// open sockets, which were authenticated once at CONNECT and must follow revocations, disables and
    /// deletes written by any process.
    public func revoked(among jtis: [String]) async throws -> Set<String> {
        try await store.revokedTokens(among: jtis)
    }

    /// Of `ids`, the users that still exist and are active, read from the store now (see `revoked(among:)`).
    public func active(among ids: [UserID]) async throws -> Set<UserID> {
        try await store.activeUsers(among: ids)
    }

    /// Makes the next check of the token `jti` read the store: for a revocation another process wrote and
    /// told this one about (a logout relayed from another instance), enforced at once instead of within
    /// `recheckInterval`.
    public func forget(tokenID jti: String) {
        accepted.revoking(jti: jti)
        accepted.revoked(jti: jti)
    }

    /// The `alg` field of a token's header, read without trusting anything else in it.
    static func headerAlgorithm(_ token: String) -> String? {
        JWTSegment.json(token, part: 0)?["alg"]?.stringValue
    }
}

/// Reads one base64url segment of a JWT as JSON, for display and the algorithm check; trusts nothing.
public enum JWTSegment {
    public static func json(_ token: String, part: Int) -> JSONValue? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, part < parts.count else { return nil }
        var base64 = parts[part].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64) else { return nil }
        return try? JSONValue.parse(data)
    }
}
