/// The rules of phone login, from the configuration.
public struct LoginPolicy: Sendable, Equatable {
    public var codeLength: Int
    public var codeLifetimeSeconds: Double
    public var maxAttempts: Int
    public var resendCooldownSeconds: Double
    public var phoneHourlyLimit: Int
    public var ipHourlyLimit: Int

    public init(codeLength: Int = 4, codeLifetimeSeconds: Double = 300, maxAttempts: Int = 5,
                resendCooldownSeconds: Double = 60, phoneHourlyLimit: Int = 10, ipHourlyLimit: Int = 30) {
        self.codeLength = codeLength
        self.codeLifetimeSeconds = codeLifetimeSeconds
        self.maxAttempts = maxAttempts
        self.resendCooldownSeconds = resendCooldownSeconds
        self.phoneHourlyLimit = phoneHourlyLimit
        self.ipHourlyLimit = ipHourlyLimit
    }
}
