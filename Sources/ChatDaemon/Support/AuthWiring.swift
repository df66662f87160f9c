import ChatAuth
import ChatConfig
import Foundation
import Logging

extension LoginPolicy {
    init(config: ChatdConfig) {
        self.init(codeLength: config.codeLength, codeLifetimeSeconds: config.codeLifetimeSeconds,
                  maxAttempts: config.maxCodeAttempts, resendCooldownSeconds: config.resendCooldownSeconds,
                  phoneHourlyLimit: config.phoneHourlyLimit, ipHourlyLimit: config.ipHourlyLimit,
                  verifyPhoneHourlyLimit: config.verifyPhoneHourlyLimit, verifyIPHourlyLimit: config.verifyIPHourlyLimit)
    }
}

enum CodeSenders {
    static func make(_ kind: ChatdConfig.SMSSender, logger: Logger) -> any CodeSender {
        switch kind {
        case .log: LogCodeSender(logger: logger)
        case .command(let command): CommandCodeSender(command: command)
        // The loader has checked the URL.
        case .webhook(let url): WebhookCodeSender(url: URL(string: url)!)
        }
    }
}
