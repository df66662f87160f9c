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
            for entry in file.values where ConfigKey.named(entry.key) == nil && !entry.key.hasSuffix("_file") {
                throw .unknownKey(path: path, key: entry.key, line: entry.line)
            }
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

    public func load() throws(ConfigError) -> ChatdConfig {
        let raw = try resolve()
        var reader = TypedReader(raw: raw.mapValues(\.value))
        let dev = try reader.bool("dev")
        let stateDirectory = try reader.string("state_dir")
        let storeURL = reader.optional("store.url") ?? "sqlite://\(stateDirectory)/chatd.sqlite"
        do { _ = try StoreURLCheck.validate(storeURL) } catch { throw .invalid(key: "store.url", reason: error.reason) }

        let sender: ChatdConfig.SMSSender
        switch reader.optional("sms.sender") ?? (dev ? "log" : nil) {
        case nil: throw .invalid(key: "sms.sender", reason: "required outside dev mode: webhook or command (SMS_SENDER)")
        case "log"?:
            guard dev else { throw .invalid(key: "sms.sender", reason: "log prints codes and is allowed only with --dev") }
            sender = .log
        case "webhook"?:
            guard let url = reader.optional("sms.webhook_url"), url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw .invalid(key: "sms.webhook_url", reason: "an http(s) URL is required when sms.sender is webhook")
            }
            sender = .webhook(url: url)
        case "command"?:
            guard let command = reader.optional("sms.command"), !command.isEmpty else {
                throw .invalid(key: "sms.command", reason: "a program is required when sms.sender is command")
            }
            sender = .command(path: command)
        case let other?:
            throw .invalid(key: "sms.sender", reason: "'\(other)' is not one of log, webhook, command")
        }

        let secret = reader.optional("jwt.secret")
        if let secret, secret.utf8.count < 32 {
            throw .invalid(key: "jwt.secret", reason: "must be at least 32 bytes (has \(secret.utf8.count))")
        }
        if secret == nil && !dev {
            throw .invalid(key: "jwt.secret", reason: "required (JWT_SECRET or JWT_SECRET_FILE); only --dev generates one")
        }
        let cors = (reader.optional("server.cors_origins") ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }

        let trustedProxies: TrustedProxies
        do { trustedProxies = try TrustedProxies(parsing: reader.optional("server.trusted_proxies") ?? "") } catch {
            throw .invalid(key: "server.trusted_proxies", reason: error.description)
        }

        let queueTemplate = try reader.template("rabbitmq.queue_template")
        let instanceName = reader.optional("rabbitmq.instance") ?? ""
        guard instanceName.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw .invalid(key: "rabbitmq.instance", reason: "letters, digits, - and _ only")
        }
        // Several instances on one user's queue would compete for its messages and split the stream.
        if !instanceName.isEmpty && !queueTemplate.contains("{instance}") {
            throw .invalid(key: "rabbitmq.queue_template", reason: "must contain {instance} when rabbitmq.instance is set")
        }
        let bindings = (reader.optional("rabbitmq.bindings") ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !bindings.isEmpty, bindings.allSatisfy({ $0.contains("{userId}") }) else {
            throw .invalid(key: "rabbitmq.bindings", reason: "one or more routing keys, each containing {userId}")
        }

        let config = ChatdConfig(
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
            queueTemplate: queueTemplate,
            instanceName: instanceName,
            bindingTemplates: bindings,
            queueExpiresSeconds: try reader.duration("rabbitmq.queue_expires"),
            subscribeWaitSeconds: try reader.duration("rabbitmq.subscribe_wait"),
            prefetch: try reader.int("rabbitmq.prefetch", in: 1...65535),
            outboxLimitBytes: try reader.int("realtime.outbox_limit", in: 4096...(1 << 30)),
            recoveryWindowSeconds: try reader.duration("realtime.recovery_window"),
            chat3URL: try reader.url("chat3.url", schemes: ["http", "https"]),
            chat3APIKey: reader.optional("chat3.api_key"),
            chat3Tenant: try reader.string("chat3.tenant"),
            chat3ConnectTimeout: try reader.duration("chat3.connect_timeout", positive: true),
            chat3RequestTimeout: try reader.duration("chat3.request_timeout", positive: true),
            jwtSecret: secret,
            jwtLifetimeSeconds: try reader.duration("jwt.expires_in", positive: true),
            controlSocket: try reader.string("control.socket"),
            operatorGroup: try reader.string("control.operator_group"),
            smsSender: sender,
            codeLength: try reader.int("auth.code_length", in: 4...8),
            codeLifetimeSeconds: try reader.duration("auth.code_ttl", positive: true),
            maxCodeAttempts: try reader.int("auth.max_attempts", in: 1...100),
            resendCooldownSeconds: try reader.duration("auth.resend_cooldown"),
            phoneHourlyLimit: try reader.int("auth.phone_hourly_limit", in: 1...100_000),
            ipHourlyLimit: try reader.int("auth.ip_hourly_limit", in: 1...1_000_000))
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

/// Converts raw texts into typed values, naming the key in every error.
struct TypedReader {
    let raw: [String: String]

    func optional(_ key: String) -> String? {
        guard let value = raw[key]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    func string(_ key: String) throws(ConfigError) -> String {
        guard let value = optional(key) else { throw .invalid(key: key, reason: "must not be empty") }
        return value
    }

    func bool(_ key: String) throws(ConfigError) -> Bool {
        switch optional(key)?.lowercased() {
        case nil, "0", "false", "no", "off": return false
        case "1", "true", "yes", "on": return true
        case let other?: throw .invalid(key: key, reason: "'\(other)' is not a boolean (true or false)")
        }
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        let text = try string(key)
        guard let value = Int(text), range.contains(value) else {
            throw .invalid(key: key, reason: "'\(text)' is not an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    func duration(_ key: String, positive: Bool = false) throws(ConfigError) -> Double {
        let text = try string(key)
        guard let seconds = DurationText.seconds(text), !positive || seconds > 0 else {
            throw .invalid(key: key, reason: "'\(text)' is not a duration like 90s, 5m, 48h")
        }
        return seconds
    }

    func choice<T: RawRepresentable & CaseIterable>(_ key: String) throws(ConfigError) -> T where T.RawValue == String {
        let text = try string(key).lowercased()
        guard let value = T(rawValue: text) else {
            throw .invalid(key: key, reason: "'\(text)' is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    func url(_ key: String, schemes: [String]) throws(ConfigError) -> String {
        let text = try string(key)
        guard let components = URLComponents(string: text), let scheme = components.scheme,
              schemes.contains(scheme), components.host?.isEmpty == false
        else { throw .invalid(key: key, reason: "not a \(schemes.joined(separator: "/")) URL") }
        return text
    }

    func template(_ key: String) throws(ConfigError) -> String {
        let text = try string(key)
        guard text.contains("{userId}") else { throw .invalid(key: key, reason: "must contain {userId}") }
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
