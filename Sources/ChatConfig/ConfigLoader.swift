import ChatCore
import Foundation

/// Builds a `ChatdConfig` from flags > environment > file > defaults.
public struct ConfigLoader: Sendable {
    public static let defaultPath = "/etc/chatd/chatd.toml"

    /// Flag values by flag name (`port`, `store`, …), as the executable parsed them.
    public var flags: [String: String]
    public var environment: [String: String]
    /// Reads a file's text; injected so tests need no real files.
    public var readFile: @Sendable (String) throws -> String

    public init(flags: [String: String] = [:], environment: [String: String],
                readFile: @escaping @Sendable (String) throws -> String = ConfigLoader.readTextFile) {
        self.flags = flags
        self.environment = environment
        self.readFile = readFile
    }

    /// The config file in use: `--config`, else `CHATD_CONFIG`, else the default path if it exists.
    public func configPath(fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }) -> (path: String, explicit: Bool)? {
        if let path = flags["config"] ?? environment["CHATD_CONFIG"] { return (path, true) }
        return fileExists(Self.defaultPath) ? (Self.defaultPath, false) : nil
    }

    /// Every key's raw text after precedence, and where it came from.
    public func resolve() throws(ConfigError) -> [String: (value: String, source: String)] {
        var file: TOMLDocument?
        var path = ""
        if let located = configPath() {
            path = located.path
            let text: String
            do { text = try readFile(path) } catch { throw .unreadableFile(path: path, reason: Self.describe(error)) }
            do { file = try TOMLDocument(parsing: text) } catch {
                throw .syntax(path: path, line: error.line, reason: error.reason)
            }
        }
        if let file {
            let unknown = file.values.filter { ConfigKey.named($0.key) == nil && !$0.key.hasSuffix("_file") }
                .map { ConfigError.unknownKey(path: path, key: $0.key, line: $0.line) }
            if unknown.count == 1 { throw unknown[0] }
            if unknown.count > 1 { throw .several(unknown) }
        }
        var resolved: [String: (String, String)] = [:]
        for key in ConfigKey.all {
            if let flag = key.flag, let value = flags[flag] {
                resolved[key.name] = (value, "flag --\(flag)")
            } else if let name = key.environment.first(where: { environment[$0] != nil }), let value = environment[name] {
                resolved[key.name] = (value, "environment \(name)")
            } else if let fileEnv = key.fileEnvironment, let secretPath = environment[fileEnv] {
                resolved[key.name] = (try readSecret(secretPath, key: key.name), "file \(secretPath)")
            } else if let value = file?[key.name] {
                resolved[key.name] = (Self.text(value), "config \(path)")
            } else if key.secret, case .string(let secretPath)? = file?["\(key.name)_file"] {
                resolved[key.name] = (try readSecret(secretPath, key: key.name), "file \(secretPath)")
            } else if let value = key.defaultValue {
                resolved[key.name] = (value, "default")
            }
        }
        return resolved
    }

    /// What the SMS program may see of chatd's environment: PATH (a safe default without one) and the
    /// locale variables. Everything else — JWT_SECRET, CHAT3_API_KEY, RABBITMQ_URL with its password —
    /// stays with chatd; the sender adds SMS_PHONE and SMS_CODE.
    static func smsCommandEnvironment(from environment: [String: String]) -> [String] {
        var chosen = ["PATH": environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"]
        for (name, value) in environment where name == "LANG" || name == "LANGUAGE" || name.hasPrefix("LC_") {
            chosen[name] = value
        }
        return chosen.map { "\($0.key)=\($0.value)" }.sorted()
    }

    public func load() throws(ConfigError) -> ChatdConfig {
        let raw = try resolve()
        // The reader records each bad value and goes on with a stand-in, so one run finds every problem.
        let reader = TypedReader(raw: raw.mapValues(\.value), collecting: true)
        let dev = try reader.bool("dev")
        let stateDirectory = try reader.string("state_dir")
        let storeURL = reader.optional("store.url") ?? "sqlite://\(stateDirectory)/chatd.sqlite"
        do { _ = try StoreURLCheck.validate(storeURL) } catch { try reader.report(.invalid(key: "store.url", reason: error.reason)) }

        var sender = ChatdConfig.SMSSender.log
        switch reader.optional("sms.sender") ?? (dev ? "log" : nil) {
        case nil: try reader.report(.invalid(key: "sms.sender", reason: "required outside dev mode: webhook or command (SMS_SENDER)"))
        case "log"?:
            if !dev { try reader.report(.invalid(key: "sms.sender", reason: "log prints codes and is allowed only with --dev")) }
        case "webhook"?:
            if let url = reader.optional("sms.webhook_url"), url.hasPrefix("http://") || url.hasPrefix("https://") {
                sender = .webhook(url: url)
            } else {
                try reader.report(.invalid(key: "sms.webhook_url", reason: "an http(s) URL is required when sms.sender is webhook"))
            }
        case "command"?:
            if let command = reader.optional("sms.command"), !command.isEmpty {
                sender = .command(path: command)
            } else {
                try reader.report(.invalid(key: "sms.command", reason: "a program is required when sms.sender is command"))
            }
        case let other?:
            try reader.report(.invalid(key: "sms.sender", reason: "'\(other)' is not one of log, webhook, command"))
        }

        let secret = reader.optional("jwt.secret")
        if let secret, secret.utf8.count < 32 {
            try reader.report(.invalid(key: "jwt.secret", reason: "must be at least 32 bytes (has \(secret.utf8.count))"))
        }
        if secret == nil && !dev {
            try reader.report(.invalid(key: "jwt.secret", reason: "required (JWT_SECRET or JWT_SECRET_FILE); only --dev generates one"))
        }
        let cors = (reader.optional("server.cors_origins") ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }

        var trustedProxies = try! TrustedProxies(parsing: "")
        do { trustedProxies = try TrustedProxies(parsing: reader.optional("server.trusted_proxies") ?? "") } catch {
            try reader.report(.invalid(key: "server.trusted_proxies", reason: error.description))
        }

        let queues = try QueueNaming(reader)

        var config = ChatdConfig(
            dev: dev,
            stateDirectory: stateDirectory,
            logLevel: try reader.choice("log.level"),
            host: try reader.string("server.host"),
            port: try reader.int("server.port", in: 0...65535),
            corsOrigins: cors,
            trustedProxies: trustedProxies,
            storeURL: storeURL,
            rabbitMQURL: try reader.url("rabbitmq.url", schemes: ["amqp"]),
            updatesExchange: try reader.string("rabbitmq.updates_exchange"),
            eventsExchange: try reader.string("rabbitmq.events_exchange"),
            managementURL: try reader.url("rabbitmq.management_url", schemes: ["http", "https"]),
            queues: queues,
            queueExpiresSeconds: try reader.duration("rabbitmq.queue_expires"),
            subscribeWaitSeconds: try reader.duration("rabbitmq.subscribe_wait"),
            prefetch: try reader.int("rabbitmq.prefetch", in: 1...65535),
            outboxLimitBytes: try reader.int("realtime.outbox_limit", in: 4096...(1 << 30)),
            recoveryWindowSeconds: try reader.duration("realtime.recovery_window"),
            receiptDelaySeconds: try reader.duration("realtime.receipt_delay"),
            chat3: try Chat3Settings(reader),
            jwtSecret: secret,
            jwtLifetimeSeconds: try reader.duration("jwt.expires_in", positive: true),
            sessionRecheckSeconds: try reader.duration("auth.session_recheck", positive: true),
            controlSocket: try reader.string("control.socket"),
            operatorGroup: try reader.string("control.operator_group"),
            smsSender: sender,
            smsCommandEnvironment: Self.smsCommandEnvironment(from: environment),
            codeLength: try reader.int("auth.code_length", in: 4...8),
            codeLifetimeSeconds: try reader.duration("auth.code_ttl", positive: true),
            maxCodeAttempts: try reader.int("auth.max_attempts", in: 1...100),
            resendCooldownSeconds: try reader.duration("auth.resend_cooldown"),
            phoneHourlyLimit: try reader.int("auth.phone_hourly_limit", in: 1...100_000),
            ipHourlyLimit: try reader.int("auth.ip_hourly_limit", in: 1...1_000_000),
            verifyPhoneHourlyLimit: try reader.int("auth.verify_phone_hourly_limit", in: 1...100_000),
            verifyIPHourlyLimit: try reader.int("auth.verify_ip_hourly_limit", in: 1...1_000_000),
            limits: try ServerLimits(reader))
        config.logFormat = try reader.choice("log.format")
        config.phoneSearchHourlyLimit = try reader.int("auth.phone_search_hourly_limit", in: 1...1_000_000)
        config.instanceTimeoutSeconds = try reader.duration("realtime.instance_timeout", positive: true)
        config.settings = raw.mapValues(\.value)
        try reader.finish()
        return config
    }

    private func readSecret(_ path: String, key: String) throws(ConfigError) -> String {
        do {
            return try readFile(path).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw .invalid(key: key, reason: "cannot read secret file \(path): \(Self.describe(error))")
        }
    }

    /// Reads any readable file, including character devices such as /dev/null (an empty config).
    public static func readTextFile(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CocoaError(FileManager.default.fileExists(atPath: path) ? .fileReadNoPermission : .fileReadNoSuchFile)
        }
        defer { try? handle.close() }
        let data = try handle.readToEnd() ?? Data()
        guard let text = String(data: data, encoding: .utf8) else { throw CocoaError(.fileReadInapplicableStringEncoding) }
        return text
    }

    static func text(_ value: TOMLDocument.Value) -> String {
        switch value {
        case .string(let text): text
        case .integer(let number): String(number)
        case .float(let number): String(number)
        case .bool(let flag): String(flag)
        case .array(let items): items.map(text).joined(separator: ",")
        }
    }

    static func describe(_ error: any Error) -> String {
        let nsError = error as NSError
        if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoSuchFileError { return "no such file" }
        if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoPermissionError { return "permission denied" }
        return nsError.localizedDescription
    }
}

/// Converts raw texts into typed values, naming the key in every error. A collecting reader records
/// each problem and returns a stand-in value instead of throwing, so a check sees every bad key at
/// once; `finish()` then throws them all.
struct TypedReader {
    final class Problems {
        var errors: [ConfigError] = []
    }

    let raw: [String: String]
    let collecting: Bool
    let problems = Problems()

    init(raw: [String: String], collecting: Bool = false) {
        self.raw = raw
        self.collecting = collecting
    }

    /// Throws `error` now, or (collecting) keeps it for `finish()`.
    func report(_ error: ConfigError) throws(ConfigError) {
        guard collecting else { throw error }
        problems.errors.append(error)
    }

    /// Throws what was collected: one error as itself, several together.
    func finish() throws(ConfigError) {
        switch problems.errors.count {
        case 0: return
        case 1: throw problems.errors[0]
        default:
            // In the order of the key table (and of `chatctl config default`), whatever order they were found in.
            let order = Dictionary(ConfigKey.all.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
            func rank(_ error: ConfigError) -> Int {
                if case .invalid(let key, _) = error { return order[key] ?? Int.max }
                return -1
            }
            throw .several(problems.errors.enumerated().sorted { (rank($0.element), $0.offset) < (rank($1.element), $1.offset) }
                .map(\.element))
        }
    }

    func optional(_ key: String) -> String? {
        guard let value = raw[key]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    func string(_ key: String) throws(ConfigError) -> String {
        guard let value = optional(key) else {
            try report(.invalid(key: key, reason: "must not be empty"))
            return ConfigKey.named(key)?.defaultValue ?? ""
        }
        return value
    }

    func bool(_ key: String) throws(ConfigError) -> Bool {
        switch optional(key)?.lowercased() {
        case nil, "0", "false", "no", "off": return false
        case "1", "true", "yes", "on": return true
        case let other?:
            try report(.invalid(key: key, reason: "'\(other)' is not a boolean (true or false)"))
            return false
        }
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard let text = optional(key) else {
            try report(.invalid(key: key, reason: "must not be empty"))
            return range.lowerBound
        }
        guard let value = Int(text), range.contains(value) else {
            try report(.invalid(key: key, reason: "'\(text)' is not an integer in \(range.lowerBound)...\(range.upperBound)"))
            return range.lowerBound
        }
        return value
    }

    func duration(_ key: String, positive: Bool = false) throws(ConfigError) -> Double {
        guard let text = optional(key) else {
            try report(.invalid(key: key, reason: "must not be empty"))
            return 1
        }
        guard let seconds = DurationText.seconds(text), !positive || seconds > 0 else {
            try report(.invalid(key: key, reason: "'\(text)' is not a duration like 90s, 5m, 48h"))
            return 1
        }
        return seconds
    }

    func choice<T: RawRepresentable & CaseIterable>(_ key: String) throws(ConfigError) -> T where T.RawValue == String {
        let text = (optional(key) ?? "").lowercased()
        guard let value = T(rawValue: text) else {
            try report(.invalid(key: key, reason: "'\(text)' is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))"))
            return T.allCases.first!
        }
        return value
    }

    func url(_ key: String, schemes: [String]) throws(ConfigError) -> String {
        let text = optional(key) ?? ""
        guard let components = URLComponents(string: text), let scheme = components.scheme,
              schemes.contains(scheme), components.host?.isEmpty == false
        else {
            try report(.invalid(key: key, reason: "not a \(schemes.joined(separator: "/")) URL"))
            return ConfigKey.named(key)?.defaultValue ?? text
        }
        return text
    }

    func template(_ key: String) throws(ConfigError) -> String {
        let text = optional(key) ?? ""
        guard text.contains("{userId}") else {
            try report(.invalid(key: key, reason: "must contain {userId}"))
            // A stand-in that raises no second, derived complaint.
            return "{instance}{userId}"
        }
        return text
    }
}

/// A store URL check that needs no store module: the scheme and, for SQLite, an absolute path.
enum StoreURLCheck {
    struct Failure: Error { let reason: String }

    static func validate(_ url: String) throws(Failure) -> String {
        if url.hasPrefix("sqlite://") {
            guard url.dropFirst("sqlite://".count).hasPrefix("/") else {
                throw Failure(reason: "sqlite URL needs an absolute path, e.g. sqlite:///var/lib/chatd/chatd.sqlite")
            }
            return url
        }
        guard url.hasPrefix("mongodb://") || url.hasPrefix("mongodb+srv://") else {
            throw Failure(reason: "must start with sqlite:// or mongodb://")
        }
        return url
    }
}

extension ConfigLoader {
    /// Just the store URL, for tools (chatctl) that need no JWT or SMS settings.
    public func storeURL() throws(ConfigError) -> String {
        let raw = try resolve()
        let reader = TypedReader(raw: raw.mapValues(\.value))
        let stateDirectory = try reader.string("state_dir")
        let url = reader.optional("store.url") ?? "sqlite://\(stateDirectory)/chatd.sqlite"
        do { return try StoreURLCheck.validate(url) } catch { throw .invalid(key: "store.url", reason: error.reason) }
    }
}

extension ConfigLoader {
    /// The token settings chatctl needs to mint and check tokens exactly as chatd does.
    public func jwtSettings() throws(ConfigError) -> (secret: String, lifetimeSeconds: Double) {
        let raw = try resolve()
        let reader = TypedReader(raw: raw.mapValues(\.value))
        let lifetime = try reader.duration("jwt.expires_in", positive: true)
        if let secret = reader.optional("jwt.secret") {
            guard secret.utf8.count >= 32 else {
                throw .invalid(key: "jwt.secret", reason: "must be at least 32 bytes (has \(secret.utf8.count))")
            }
            return (secret, lifetime)
        }
        guard try reader.bool("dev") else {
            throw .invalid(key: "jwt.secret", reason: "required (JWT_SECRET or JWT_SECRET_FILE); only --dev generates one")
        }
        let stateDirectory = try reader.string("state_dir")
        do {
            return (try DevSecret.loadOrCreate(stateDirectory: stateDirectory), lifetime)
        } catch {
            throw .invalid(key: "state_dir", reason: "cannot read the development secret: \(error)")
        }
    }
}
