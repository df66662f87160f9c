import ChatAuth
import ChatCore
import HTTPTypes
import Hummingbird

extension APIError {
    /// Login and token errors on the wire.
    init(_ error: AuthError) {
        switch error {
        case .nameRequired: self = .badRequest("Name is required for new users")
        case .accountDisabled: self = .forbidden("Account disabled")
        case .invalidCode: self = .invalidCode("Invalid or expired verification code")
        case .codeExpired: self = .invalidCode("Invalid or expired verification code")
        case .tooManyAttempts: self = .tooManyAttempts
        case .cooldown(let seconds): self = .rateLimited(retryAfterSeconds: seconds, message: "Code already sent; try again later")
        case .rateLimited(let seconds): self = .rateLimited(retryAfterSeconds: seconds, message: "Too many requests")
        case .senderFailed: self = .smsUnavailable
        case .invalidToken, .revoked, .unknownUser: self = .unauthorized
        }
    }
}

/// Requires a valid bearer token; stores who is calling in the context.
struct AuthMiddleware: RouterMiddleware {
    let tokens: TokenService

    func handle(_ request: Request, context: ChatRequestContext,
                next: (Request, ChatRequestContext) async throws -> Response) async throws -> Response {
        guard let token = BearerToken.from(request.headers[.authorization]) else { throw APIError.unauthorized }
        var context = context
        do {
            let (user, claims) = try await tokens.authenticate(token)
            context.identity = AuthenticatedUser(user: user, tokenID: claims.jti.value,
                                                 expiresAt: claims.exp.value.timeIntervalSince1970)
        } catch let error as AuthError {
            context.logger.debug("token refused", metadata: ["reason": "\(error)"])
            throw APIError.unauthorized
        }
        return try await next(request, context)
    }
}

enum BearerToken {
    /// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, blanks around the
    /// token ignored). Works on UTF-8 bytes: this runs on every authenticated request, and Foundation's
    /// `trimmingCharacters` cost more than the cached token check itself.
    static func from(_ header: String?) -> String? {
        guard let header else { return nil }
        let utf8 = header.utf8
        var index = utf8.startIndex
        for expected in "bearer ".utf8 {
            guard index < utf8.endIndex else { return nil }
            let byte = utf8[index]
            // ASCII letters fold to lower case with 0x20; the space must be a space.
            guard byte == expected || (expected != 0x20 && byte | 0x20 == expected) else { return nil }
            index = utf8.index(after: index)
        }
        var end = utf8.endIndex
        while index < end, isBlank(utf8[index]) { index = utf8.index(after: index) }
        while end > index, isBlank(utf8[utf8.index(before: end)]) { end = utf8.index(before: end) }
        guard index < end else { return nil }
        let token = String(header[index..<end])
        // Other Unicode white space (no token contains any) is trimmed as before.
        if token.utf8.contains(where: { $0 >= 0x80 }) {
            let trimmed = token.trimmingCharacters(in: .whitespaces)
            return trimmed.isEmpty ? nil : trimmed
        }
        return token
    }

    private static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
}

struct AuthRoutes {
    let services: DaemonServices
    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    func register(on router: Router<ChatRequestContext>) {
        let logins = services.logins
        let tokens = services.tokens
        let metrics = services.metrics
        let proxies = services.config.trustedProxies
        let realTime = services.realTime
        let relay = services.relay
        router.post("/api/auth/request-code") { request, context in
            var request = request
            let body = try await request.jsonObject(context: context)
            let phone = try Self.string(body, "phone", required: true)!
            let name = try Self.string(body, "name", required: false)
            do {
                // Counted as the per-address caps count it: an IPv6 client by its /64.
                let client = proxies.limitAddress(peer: context.clientAddress,
                                                  forwardedFor: request.headers[Self.forwardedFor])
                let isNew = try await logins.requestCode(phone: phone, name: name, clientAddress: client)
                metrics.authCodesIssued.increment()
                return JSONResponse.ok(["message": "Verification code sent", "isNewUser": .bool(isNew)])
            } catch let error as AuthError {
                metrics.authCodesFailed(Self.reason(error)).increment()
                throw APIError(error)
            }
        }
        router.post("/api/auth/verify-code") { request, context in
            var request = request
            let body = try await request.jsonObject(context: context)
            let phone = try Self.string(body, "phone", required: true)!
            let code = try Self.string(body, "code", required: true)!
            do {
                // Counted as the per-address caps count it: an IPv6 client by its /64.
                let client = proxies.limitAddress(peer: context.clientAddress,
                                                  forwardedFor: request.headers[Self.forwardedFor])
                let (token, user) = try await logins.verifyCode(phone: phone, code: code, clientAddress: client)
                return JSONResponse.ok(["token": .string(token), "user": Self.userJSON(user)])
            } catch let error as AuthError {
                metrics.authCodesFailed(Self.reason(error)).increment()
                throw APIError(error)
            }
        }
        let protected = router.group("/api").add(middleware: AuthMiddleware(tokens: tokens))
        protected.get("/auth/me") { _, context in
            guard let identity = context.identity else { throw APIError.unauthorized }
            return JSONResponse.ok(["user": Self.userJSON(identity.user)])
        }
        protected.post("/auth/logout") { request, context in
            guard let identity = context.identity,
                  let token = BearerToken.from(request.headers[.authorization]) else { throw APIError.unauthorized }
            let claims = try await tokens.verifySignature(token)
            try await tokens.revoke(claims)
            // The token's open sockets close too, here at once and on the other instances via the relay.
            let closed = await realTime.closeSessions(tokenID: claims.jti.value)
            relay.relayRevoke(tokenID: claims.jti.value)
            context.logger.info("logout", metadata: ["user.id": "\(identity.user.userId)", "socket.count": "\(closed)"])
            return JSONResponse.ok(["message": "Logged out"])
        }
    }

    /// The metric label of a failed login step.
    static func reason(_ error: AuthError) -> String {
        switch error {
        case .nameRequired: "name_required"
        case .accountDisabled: "disabled"
        case .invalidCode: "invalid_code"
        case .codeExpired: "expired"
        case .tooManyAttempts: "too_many_attempts"
        case .cooldown, .rateLimited: "rate_limited"
        case .senderFailed: "sender"
        case .invalidToken, .revoked, .unknownUser: "token"
        }
    }

    static func userJSON(_ user: User) -> JSONValue {
        ["userId": .string(user.userId.rawValue), "phone": .string(user.phone.digits), "name": .string(user.name.value)]
    }

    /// A string field; a wrong JSON type is a 400 naming the field.
    static func string(_ body: [String: JSONValue], _ field: String, required: Bool) throws -> String? {
        switch body[field] {
        case .string(let value)?: return value
        case nil, .null?:
            if required { throw APIError.badRequest("\(field) is required") }
            return nil
        default: throw APIError.badRequest("\(field) must be a string")
        }
    }
}
