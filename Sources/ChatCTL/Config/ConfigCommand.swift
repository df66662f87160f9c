import ArgumentParser
import ChatConfig

public struct ConfigCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Validate and show chatd's configuration.",
        subcommands: [ConfigCheck.self, ConfigDefault.self])
    public init() {}
}

struct ConfigCheck: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Validate the config file and environment exactly as chatd would.",
        discussion: """
            Every problem is reported at once, one line each on standard error (exit 78). A valid configuration \
            is printed key by key with its source, including values derived from others (store.url from \
            state_dir). A URL's password is shown as ***, with its user, host and port; other secrets as (set).
            """)

    @OptionGroup var global: GlobalOptions

    func run(_ context: CTLContext) async throws {
        let loader = global.loader(context)
        // Every problem at once (one per line on stderr), not just the first.
        let config = try loader.load()
        let resolved = try loader.resolve()
        struct Entry: Encodable { let key: String; let value: String; let source: String }
        let entries = ConfigKey.all.compactMap { key -> Entry? in
            if let (value, source) = resolved[key.name] {
                return Entry(key: key.name, value: ConfigValueMask.display(value, secret: key.secret), source: source)
            }
            // Keys without a value of their own still have an effective one, derived from others.
            return Self.derived(key.name, config).map { Entry(key: key.name, value: ConfigValueMask.display($0.value, secret: key.secret),
                                                             source: $0.source) }
        }
        if global.json {
            context.print(Output.json(entries))
        } else {
            context.print(Output.table(["KEY", "VALUE", "SOURCE"], entries.map { [$0.key, $0.value, $0.source] }))
            context.print("config ok (digest \(config.digest))")
        }
    }

    /// Effective values chatd computes when a key is not set.
    static func derived(_ key: String, _ config: ChatdConfig) -> (value: String, source: String)? {
        switch key {
        case "store.url": (config.storeURL, "derived from state_dir")
        case "sms.sender" where config.dev: ("log", "derived from dev")
        case "jwt.secret" where config.dev: ("(generated, kept in \(config.stateDirectory)/dev-jwt-secret)", "derived from dev")
        default: nil
        }
    }
}

struct ConfigDefault: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "default", abstract: "Print a commented example config file with every key and its default.")

    @OptionGroup var global: GlobalOptions

    func run(_ context: CTLContext) async throws {
        context.write(ConfigKey.exampleFile())
    }
}

/// What `config check` may print of a value: a URL's password becomes `***` (user, host and port stay
/// visible, they are what an operator checks); other secrets show only that they are set.
enum ConfigValueMask {
    static func display(_ value: String, secret: Bool) -> String {
        guard let masked = url(value) else { return secret ? "(set)" : value }
        // A secret URL (the SMS webhook) may carry its token in the query.
        if secret, let query = masked.firstIndex(of: "?") { return masked[..<query] + "?***" }
        return masked
    }

    /// `scheme://user:***@host:port/path`, or nil when `value` is not a URL with an authority.
    static func url(_ value: String) -> String? {
        guard let scheme = value.range(of: "://") else { return nil }
        let rest = value[scheme.upperBound...]
        let authorityEnd = rest.firstIndex { "/?#".contains($0) } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return value }
        let userInfo = authority[..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return value }
        return String(value[..<scheme.upperBound]) + userInfo[..<colon] + ":***" + String(value[at...])
    }
}
