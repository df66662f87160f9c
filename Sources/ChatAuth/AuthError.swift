/// Why a login step or a token was refused. The HTTP layer maps these to statuses in one place.
public enum AuthError: Error, Equatable, Sendable {
    case nameRequired
    case accountDisabled
    case invalidCode
    case codeExpired
    case tooManyAttempts
    case cooldown(retryAfterSeconds: Int)
    case rateLimited(retryAfterSeconds: Int)
    case senderFailed
    /// Token problems: all answer 401; the reason is for logs and `chatctl token inspect`.
    case invalidToken(String)
    case revoked
    case unknownUser
}
