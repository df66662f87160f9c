import ChatCore
import Foundation

/// chatd's validated, immutable configuration. Built once by `ConfigLoader`; nothing below the
/// executables reads the environment.
public struct ChatdConfig: Sendable, Equatable {
    public enum LogLevel: String, Sendable, CaseIterable { case trace, debug, info, notice, warning, error, critical }
    /// logfmt lines (default) or JSON lines.
    public enum LogFormat: String, Sendable, CaseIterable { case logfmt, json }
    public enum SMSSender: Sendable, Equatable {
        case log
        case webhook(url: String)
        case command(path: String)
    }

    public var dev: Bool
    public var stateDirectory: String
    public var logLevel: LogLevel
    public var logFormat: LogFormat = .logfmt
    public var host: String
    public var port: Int
    public var corsOrigins: [String]
    /// Proxies whose `X-Forwarded-For` names the client (for per-address limits).
    public var trustedProxies: TrustedProxies
    public var storeURL: String
    public var rabbitMQURL: String
    public var updatesExchange: String
    /// Where instances relay room events (typing, presence) to each other.
    public var eventsExchange: String
    public var managementURL: String
    /// The user's update queue and its bindings (`rabbitmq.queue_template`, `.instance`, `.bindings`).
    public var queues: QueueNaming
    public var queueExpiresSeconds: Double
    /// How long a CONNECT may wait for the user's subscription (see `UpdatePipeline.waitUntilSubscribed`).
    public var subscribeWaitSeconds: Double
    public var prefetch: Int
    /// The most a Socket.IO session may hold unwritten, in bytes, before it is closed.
    public var outboxLimitBytes: Int
    /// How long a dropped socket that asked for connection-state recovery can resume; 0 turns it off.
    public var recoveryWindowSeconds: Double
    /// `realtime.instance_timeout`: another instance silent this long is taken for dead.
    public var instanceTimeoutSeconds: Double = 15
    /// How long an update written on a WebSocket may wait for the ping that confirms it (and so for its ack).
    public var receiptDelaySeconds: Double
    public var chat3: Chat3Settings
    /// Nil only under `dev`, where the daemon generates and keeps one (`DevSecret`).
    public var jwtSecret: String?
    public var jwtLifetimeSeconds: Double
    /// How often open sockets are checked against the store (revoked token, disabled or deleted user).
    public var sessionRecheckSeconds: Double
    public var controlSocket: String
    public var operatorGroup: String
    public var smsSender: SMSSender
    /// All the `command` SMS sender inherits of chatd's environment: PATH and the locale, never a secret.
    /// Sorted `NAME=value` entries, so the reload diff and the digest do not depend on dictionary order.
    public var smsCommandEnvironment: [String]
    public var codeLength: Int
    public var codeLifetimeSeconds: Double
    public var maxCodeAttempts: Int
    public var resendCooldownSeconds: Double
    public var phoneHourlyLimit: Int
    public var ipHourlyLimit: Int
    public var verifyPhoneHourlyLimit: Int
    public var verifyIPHourlyLimit: Int
    public var phoneSearchHourlyLimit = 30
    /// Timeouts, caps and rates per connection (see `ServerLimits`).
    public var limits = ServerLimits()

    /// Every key's effective text after precedence (flags > environment > file > defaults), by key name:
    /// what reload compares, so a setting added to the key table is reported without a list to keep.
    public var settings: [String: String] = [:]

    /// Which keys have another effective text in `other`, sorted.
    public func changedKeys(to other: ChatdConfig) -> [String] {
        Set(settings.keys).union(other.settings.keys).filter { settings[$0] != other.settings[$0] }.sorted()
    }

    /// A short hash of the effective settings (secrets included only as their hash), shown by status.
    public var digest: String {
        var typed = self
        typed.settings = [:]  // the typed values say it all, and a dictionary's order is not stable
        let text = "\(typed)"
        return String(OTPHasher.sha256Hex(text).prefix(12))
    }
}

/// Why a configuration is unusable. Always names the key, so the operator knows what to fix.
public enum ConfigError: Error, Equatable, Sendable {
    case invalid(key: String, reason: String)
    case unreadableFile(path: String, reason: String)
    case syntax(path: String, line: Int, reason: String)
    case unknownKey(path: String, key: String, line: Int)
    /// More than one of the above: every problem is reported at once, in key order.
    case several([ConfigError])

    /// Each problem on its own.
    public var all: [ConfigError] {
        if case .several(let errors) = self { return errors.flatMap(\.all) }
        return [self]
    }

    public var message: String {
        switch self {
        case .several(let errors): errors.map(\.message).joined(separator: "\n")
        case .invalid(let key, let reason): "config: \(key): \(reason)"
        case .unreadableFile(let path, let reason): "config: cannot read \(path): \(reason)"
        case .syntax(let path, let line, let reason): "config: \(path):\(line): \(reason)"
        case .unknownKey(let path, let key, let line): "config: \(path):\(line): unknown key '\(key)'"
        }
    }
}
