/// The rules of phone login, from the configuration.
public struct LoginPolicy: Sendable, Equatable {
    public var codeLength: Int
    public var codeLifetimeSeconds: Double
    public var maxAttempts: Int
    public var resendCooldownSeconds: Double
    public var phoneHourlyLimit: Int
    public var ipHourlyLimit: Int
    /// Wrong codes per phone per hour, over all of its codes: bounds guessing by any number of addresses.
    public var verifyPhoneHourlyLimit: Int
    /// Wrong codes (or unknown phones) per client address per hour, over all phones.
    public var verifyIPHourlyLimit: Int

    public init(codeLength: Int = 4, codeLifetimeSeconds: Double = 300, maxAttempts: Int = 5,
                resendCooldownSeconds: Double = 60, phoneHourlyLimit: Int = 10, ipHourlyLimit: Int = 30,
                verifyPhoneHourlyLimit: Int = 10, verifyIPHourlyLimit: Int = 20) {
        self.codeLength = codeLength
        self.codeLifetimeSeconds = codeLifetimeSeconds
        self.maxAttempts = maxAttempts
        self.resendCooldownSeconds = resendCooldownSeconds
        self.phoneHourlyLimit = phoneHourlyLimit
        self.ipHourlyLimit = ipHourlyLimit
        self.verifyPhoneHourlyLimit = verifyPhoneHourlyLimit
        self.verifyIPHourlyLimit = verifyIPHourlyLimit
    }
}
