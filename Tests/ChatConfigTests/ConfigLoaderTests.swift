import ChatConfig
import Foundation
import Testing

private let secret = String(repeating: "s", count: 40)

private func loader(flags: [String: String] = [:], env: [String: String] = [:], files: [String: String] = [:]) -> ConfigLoader {
    ConfigLoader(flags: flags, environment: env) { path in
        guard let text = files[path] else { throw CocoaError(.fileReadNoSuchFile) }
        return text
    }
}

@Suite("Configuration")
struct ConfigLoaderTests {
    @Test("flags beat environment, which beats the file, which beats defaults")
    func precedence() throws {
        let file = """
            # chatd.toml
            [server]
            port = 4000
            host = "127.0.0.1"
            [chat3]
            tenant = "tnt_file"
            url = "http://chat3.local:3000/api"
            """
        let base = ["JWT_SECRET": secret, "SMS_SENDER": "command", "SMS_COMMAND": "/bin/true"]
        let config = try loader(flags: ["config": "/c.toml", "port": "5000"],
                                env: base.merging(["PORT": "4500", "CHAT3_TENANT_ID": "tnt_env"]) { $1 },
                                files: ["/c.toml": file]).load()
        #expect(config.port == 5000)
        #expect(config.chat3.tenant == "tnt_env")
        #expect(config.host == "127.0.0.1")
        #expect(config.chat3.url == "http://chat3.local:3000/api")
        #expect(config.updatesExchange == "chat3_updates")
        #expect(config.jwtLifetimeSeconds == 48 * 3600)
    }

    @Test("the SMS command inherits only PATH and the locale of the environment")
    func smsCommandEnvironment() throws {
        let env = ["JWT_SECRET": secret, "SMS_SENDER": "command", "SMS_COMMAND": "/bin/true", "CHAT3_API_KEY": "k",
                   "RABBITMQ_URL": "amqp://u:p@h/", "PATH": "/opt/bin:/usr/bin", "LANG": "ru_RU.UTF-8",
                   "LC_MESSAGES": "C", "HOME": "/root", "MONGODB_URI": "mongodb://u:p@h/db"]
        let config = try loader(env: env).load()
        #expect(config.smsCommandEnvironment == ["LANG=ru_RU.UTF-8", "LC_MESSAGES=C", "PATH=/opt/bin:/usr/bin"])
        let withoutPath = try loader(env: ["JWT_SECRET": secret, "SMS_SENDER": "command", "SMS_COMMAND": "/bin/true"]).load()
        #expect(withoutPath.smsCommandEnvironment == ["PATH=/usr/local/bin:/usr/bin:/bin"])
    }

    @Test("secrets can come from *_FILE variables")
    func secretFiles() throws {
        let config = try loader(env: ["JWT_SECRET_FILE": "/run/secret", "CHAT3_API_KEY_FILE": "/run/key", "CHATD_DEV": "1"],
                                files: ["/run/secret": secret + "\n", "/run/key": "chat3_abc\n"]).load()
        #expect(config.jwtSecret == secret)
        #expect(config.chat3.apiKey == "chat3_abc")
    }

    @Test("MONGODB_URI from the seed still selects the store")
    func seedMongoVariable() throws {
        let config = try loader(env: ["MONGODB_URI": "mongodb://db:27017/chatpapp", "CHATD_DEV": "true"]).load()
        #expect(config.storeURL == "mongodb://db:27017/chatpapp")
    }

    @Test("a missing JWT secret is refused outside dev mode, naming the key")
    func missingSecret() {
        #expect(throws: ConfigError.invalid(key: "jwt.secret",
                                            reason: "required (JWT_SECRET or JWT_SECRET_FILE); only --dev generates one")) {
            try loader(env: ["SMS_SENDER": "command", "SMS_COMMAND": "/bin/true"]).load()
        }
    }

    @Test("bad values name their key", arguments: [
        (["PORT": "70000"], "server.port"),
        (["PORT": "abc"], "server.port"),
        (["JWT_SECRET": "short"], "jwt.secret"),
        (["JWT_EXPIRES_IN": "forever"], "jwt.expires_in"),
        (["LOG_LEVEL": "loud"], "log.level"),
        (["RABBITMQ_URL": "http://x"], "rabbitmq.url"),
        (["CHATD_STORE": "postgres://x"], "store.url"),
        (["CHATD_STORE": "sqlite://relative.db"], "store.url"),
        (["SMS_SENDER": "pigeon"], "sms.sender"),
        (["SMS_SENDER": "webhook"], "sms.webhook_url"),
        (["CHATD_DEV": "maybe"], "dev"),
        (["CHATD_TRUSTED_PROXIES": "127.0.0.1, nginx"], "server.trusted_proxies"),
    ])
    func badValues(env: [String: String], key: String) {
        var environment = ["JWT_SECRET": secret, "CHATD_DEV": "1"]
        environment.merge(env) { $1 }
        do {
            _ = try loader(env: environment).load()
            Issue.record("expected an error for \(key)")
        } catch {
            // The first problem is the bad value itself (a bad `dev` also leaves the SMS sender unsettled).
            guard case .invalid(let named, _)? = error.all.first else { Issue.record("unexpected \(error)"); return }
            #expect(named == key)
        }
    }

    @Test("every bad value is reported at once, in key order, not only the first")
    func severalBadValues() {
        do {
            _ = try loader(env: ["JWT_SECRET": "short", "CHATD_DEV": "1", "PORT": "abc", "LOG_LEVEL": "loud"]).load()
            Issue.record("expected errors")
        } catch {
            let keys = error.all.compactMap { problem -> String? in
                if case .invalid(let key, _) = problem { return key }
                return nil
            }
            #expect(keys == ["log.level", "server.port", "jwt.secret"])
        }
    }

    @Test("the log SMS sender is refused outside dev mode")
    func logSenderNeedsDev() {
        #expect(throws: ConfigError.self) {
            try loader(env: ["JWT_SECRET": secret, "SMS_SENDER": "log"]).load()
        }
    }

    @Test("syntax errors and unknown keys in the file name the line")
    func fileErrors() {
        #expect(throws: ConfigError.syntax(path: "/c.toml", line: 2, reason: "cannot read value 'abc' (strings need quotes)")) {
            try loader(flags: ["config": "/c.toml"], env: ["CHATD_DEV": "1"], files: ["/c.toml": "[server]\nhost = abc\n"]).load()
        }
        #expect(throws: ConfigError.unknownKey(path: "/c.toml", key: "server.prot", line: 2)) {
            try loader(flags: ["config": "/c.toml"], env: ["CHATD_DEV": "1"], files: ["/c.toml": "[server]\nprot = 1\n"]).load()
        }
        #expect(throws: ConfigError.self) {
            try loader(flags: ["config": "/missing.toml"], env: ["CHATD_DEV": "1"]).load()
        }
    }

    @Test("durations accept operator notations", arguments: [
        ("48h", 172_800.0), ("5m", 300.0), ("90s", 90.0), ("250ms", 0.25), ("1h30m", 5400.0), ("2d", 172_800.0), ("60", 60.0),
    ])
    func durations(text: String, seconds: Double) {
        #expect(DurationText.seconds(text) == seconds)
    }

    @Test("the TOML reader handles strings, escapes, arrays, comments and refuses duplicates")
    func toml() throws {
        let document = try TOMLDocument(parsing: """
            a = "x\\ty" # comment
            b = 'raw\\n'
            [t]
            list = ["1", 2, true]
            f = 1.5
            """)
        #expect(document["a"] == .string("x\ty"))
        #expect(document["b"] == .string("raw\\n"))
        #expect(document["t.list"] == .array([.string("1"), .integer(2), .bool(true)]))
        #expect(document["t.f"] == .float(1.5))
        #expect(throws: TOMLDocument.SyntaxError.self) { try TOMLDocument(parsing: "a = 1\na = 2") }
        #expect(throws: TOMLDocument.SyntaxError.self) { try TOMLDocument(parsing: "a = \"open") }
    }
}
