import ChatAuth
import ChatCore
import ChatStore
import Crypto
import Foundation
import Testing

private func base64URL(_ data: Data) -> String {
    data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

private func base64URL(_ text: String) -> String { base64URL(Data(text.utf8)) }

/// Builds a token by hand, signed with `secret` (or unsigned), to forge what attackers send.
private func forge(header: String, payload: String, secret: String?) -> String {
    let signingInput = "\(base64URL(header)).\(base64URL(payload))"
    guard let secret else { return signingInput + "." }
    let mac = HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: SymmetricKey(data: Data(secret.utf8)))
    return signingInput + "." + base64URL(Data(mac))
}

@Suite("Token attacks")
struct TokenAttackTests {
    func harness() async throws -> (LoginHarness, User) {
        let h = try await LoginHarness()
        let user = User(userId: UserID.generate(), phone: try Phone(normalizing: "79001112233"),
                        name: try UserName(validating: "Eve"), createdAt: Date())
        try await h.store.createUser(user)
        return (h, user)
    }

    func payload(_ user: User, exp: Double? = Date().timeIntervalSince1970 + 3600) -> String {
        var fields = [#""userId":"\#(user.userId)""#, #""phone":"\#(user.phone)""#, #""iat":1800000000"#, #""jti":"j1""#]
        if let exp { fields.append(#""exp":\#(Int(exp))"#) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    @Test("a well-formed token signed with the secret is accepted (control case)")
    func control() async throws {
        let (h, user) = try await harness()
        let token = forge(header: #"{"alg":"HS256","typ":"JWT"}"#, payload: payload(user), secret: LoginHarness.secret)
        let (accepted, _) = try await h.tokens.authenticate(token)
        #expect(accepted.userId == user.userId)
        await h.cleanUp()
    }

    @Test("alg none is refused")
    func algNone() async throws {
        let (h, user) = try await harness()
        let token = forge(header: #"{"alg":"none","typ":"JWT"}"#, payload: payload(user), secret: nil)
        await #expect(throws: AuthError.self) { try await h.tokens.authenticate(token) }
        await h.cleanUp()
    }

    @Test("another algorithm in the header is refused even with a valid HS256 signature")
    func algSwap() async throws {
        let (h, user) = try await harness()
        let token = forge(header: #"{"alg":"HS512","typ":"JWT"}"#, payload: payload(user), secret: LoginHarness.secret)
        await #expect(throws: AuthError.self) { try await h.tokens.authenticate(token) }
        await h.cleanUp()
    }

    @Test("a token signed with another secret is refused")
    func wrongSecret() async throws {
        let (h, user) = try await harness()
        let token = forge(header: #"{"alg":"HS256"}"#, payload: payload(user), secret: String(repeating: "x", count: 48))
        await #expect(throws: AuthError.self) { try await h.tokens.authenticate(token) }
        await h.cleanUp()
    }

    @Test("a tampered payload is refused")
    func tampered() async throws {
        let (h, user) = try await harness()
        let token = try await h.tokens.mint(for: user)
        let parts = token.split(separator: ".").map(String.init)
        let other = base64URL(payload(user).replacingOccurrences(of: user.userId.rawValue, with: "usr_aaaaaaaa"))
        await #expect(throws: AuthError.self) { try await h.tokens.authenticate("\(parts[0]).\(other).\(parts[2])") }
        await h.cleanUp()
    }

    @Test("an expired token is refused")
    func expired() async throws {
        let (h, user) = try await harness()
        let token = try await h.tokens.mint(for: user, lifetimeSeconds: 60, now: Date().addingTimeInterval(-120))
        await #expect(throws: AuthError.self) { try await h.tokens.authenticate(token) }
        await h.cleanUp()
    }

    @Test("a token without exp is refused")
    func missingExp() async throws {
        let (h, user) = try await harness()
        let token = forge(header: #"{"alg":"HS256"}"#, payload: payload(user, exp: nil), secret: LoginHarness.secret)
        await #expect(throws: AuthError.self) { try await h.tokens.authenticate(token) }
        await h.cleanUp()
    }

    @Test("a disabled user's token is refused")
    func disabledUser() async throws {
        let (h, user) = try await harness()
        let token = try await h.tokens.mint(for: user)
        _ = try await h.store.setStatus(id: user.userId, to: .disabled)
        await #expect(throws: AuthError.accountDisabled) { try await h.tokens.authenticate(token) }
        await h.cleanUp()
    }

    @Test("a revoked token is refused")
    func revoked() async throws {
        let (h, user) = try await harness()
        let token = try await h.tokens.mint(for: user)
        try await h.tokens.revoke(try await h.tokens.verifySignature(token))
        await #expect(throws: AuthError.revoked) { try await h.tokens.authenticate(token) }
        await h.cleanUp()
    }

    @Test("garbage is refused without crashing", arguments: ["", ".", "..", "a.b.c", "eyJ.eyJ.", String(repeating: "A", count: 5000)])
    func garbage(token: String) async throws {
        let (h, _) = try await harness()
        await #expect(throws: AuthError.self) { try await h.tokens.authenticate(token) }
        await h.cleanUp()
    }
}
