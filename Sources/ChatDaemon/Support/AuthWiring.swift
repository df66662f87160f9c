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
    static func make(_ config: ChatdConfig, logger: Logger) -> any CodeSender {
        switch config.smsSender {
        case .log: LogCodeSender(logger: logger)
        case .command(let command): CommandCodeSender(command: command, environment: Dictionary(
            config.smsCommandEnvironment.map { entry in
                let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
            }, uniquingKeysWith: { $1 }))
        // The loader has checked the URL.
        case .webhook(let url): WebhookCodeSender(url: URL(string: url)!)
        }
    }
}
