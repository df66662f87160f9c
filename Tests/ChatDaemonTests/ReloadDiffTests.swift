import ChatConfig
@testable import ChatDaemon
import Testing

/// What reload reports: every setting by its config key name, live ones apart.
@Suite("reload diff")
struct ReloadDiffTests {
    /// A dev config from `file` (TOML text) and `environment`, as a reload would read it.
    static func config(file: String = "", _ environment: [String: String] = [:]) throws -> ChatdConfig {
        try ConfigLoader(flags: ["dev": "true"], environment: ["CHATD_CONFIG": "/etc/chatd/test.toml"].merging(environment) { $1 },
                         readFile: { _ in file }).load()
    }

    @Test("every key of the table is compared, so a new setting cannot go unreported")
    func everyKeyIsCompared() throws {
        let loaded = try Self.config()
        for key in ConfigKey.all where key.defaultValue != nil {
            #expect(loaded.settings[key.name] != nil, "\(key.name) is not in the settings reload compares")
        }
        for key in ReloadDiff.liveKeys { #expect(ConfigKey.named(key) != nil, "\(key)") }
    }

    @Test("changed keys are listed by name, in any section; live and restart-only ones are told apart")
    func changedKeys() throws {
        let old = try Self.config()
        let new = try Self.config(file: """
            [auth]
            ip_hourly_limit = \(old.ipHourlyLimit + 1)
            [socketio]
            ping_interval = "7s"
            """, ["CORS_ORIGINS": "https://app.example", "PORT": "\(old.port + 1)", "CHAT3_TENANT_ID": "tnt_other"])
        let changed = ReloadDiff.changedKeys(old, new)
        #expect(changed == ["auth.ip_hourly_limit", "chat3.tenant", "server.cors_origins", "server.port",
                            "socketio.ping_interval"])
        #expect(changed.filter(ReloadDiff.liveKeys.contains) == ["auth.ip_hourly_limit", "server.cors_origins"])
        #expect(ReloadDiff.changedKeys(old, old).isEmpty)
        #expect(ReloadDiff.changedKeys(old, try Self.config()).isEmpty, "two loads of one config differ")
    }
}
