import ChatConfig
@testable import ChatDaemon
import Testing

/// What reload reports: every setting by its config key name, live ones apart.
@Suite("reload diff")
struct ReloadDiffTests {
    static func config() throws -> ChatdConfig {
        try ConfigLoader(flags: ["dev": "true"], environment: ["CHATD_CONFIG": "/dev/null"]).load()
    }

    @Test("every ChatdConfig property is reported under an existing config key, so a new setting cannot go unnamed")
    func everyPropertyHasAKeyName() throws {
        for child in Mirror(reflecting: try Self.config().limits).children {
            let label = try #require(child.label)
            let name = try #require(ReloadDiff.limitKeyNames[label], "ReloadDiff.limitKeyNames has no entry for \(label)")
            #expect(ConfigKey.named(name) != nil, "\(label) → \(name) is not a config key")
        }
        for child in Mirror(reflecting: try Self.config()).children where child.label != "limits" {
            let label = try #require(child.label)
            let name = try #require(ReloadDiff.keyNames[label], "ReloadDiff.keyNames has no entry for \(label)")
            #expect(ConfigKey.named(name) != nil, "\(label) → \(name) is not a config key")
        }
        for key in ReloadDiff.liveKeys { #expect(ConfigKey.named(key) != nil, "\(key)") }
    }

    @Test("changed keys are listed by name; live and restart-only ones are told apart")
    func changedKeys() throws {
        let old = try Self.config()
        var new = old
        new.corsOrigins = ["https://app.example"]
        new.ipHourlyLimit = old.ipHourlyLimit + 1
        new.port = old.port + 1
        let changed = ReloadDiff.changedKeys(old, new)
        #expect(changed == ["auth.ip_hourly_limit", "server.cors_origins", "server.port"])
        #expect(changed.filter(ReloadDiff.liveKeys.contains) == ["auth.ip_hourly_limit", "server.cors_origins"])
        #expect(ReloadDiff.changedKeys(old, old).isEmpty)
    }
}
