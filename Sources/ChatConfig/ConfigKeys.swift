import Foundation

/// One setting: its name in the file, the environment variables and flag that override it, its default.
/// This table is the single source for loading, `chatctl config check`, the example file and its man page.
public struct ConfigKey: Sendable {
    public let name: String
    public let environment: [String]
    /// Environment variable naming a file whose content is the value (secrets only).
    public let fileEnvironment: String?
    public let flag: String?
    public let defaultValue: String?
    public let secret: Bool
    public let summary: String

    init(_ name: String, env: [String] = [], fileEnv: String? = nil, flag: String? = nil,
         default defaultValue: String? = nil, secret: Bool = false, _ summary: String) {
        self.name = name
        self.environment = env
        self.fileEnvironment = fileEnv
        self.flag = flag
        self.defaultValue = defaultValue
        self.secret = secret
        self.summary = summary
    }
}

extension ConfigKey {
    public static let all: [ConfigKey] = [
        ConfigKey("dev", env: ["CHATD_DEV"], flag: "dev", default: "false",
                  "development defaults: generated JWT secret kept in the state directory, `log` SMS sender"),
        ConfigKey("state_dir", env: ["CHATD_STATE_DIR"], flag: "state-dir", default: "/var/lib/chatd",
                  "directory for the SQLite file and the generated development secret"),
        ConfigKey("log.level", env: ["LOG_LEVEL"], flag: "log-level", default: "info",
                  "trace, debug, info, notice, warning, error or critical"),
        ConfigKey("log.format", env: ["LOG_FORMAT"], default: "logfmt",
                  "logfmt (one line per event, values quoted when needed) or json (one JSON object per line)"),
        ConfigKey("server.host", env: ["CHATD_HOST"], flag: "host", default: "0.0.0.0",
                  "address the HTTP and Socket.IO server binds"),
        ConfigKey("server.port", env: ["PORT"], flag: "port", default: "3001",
                  "HTTP and Socket.IO port; 0 picks a free port and logs it"),
        ConfigKey("server.cors_origins", env: ["CORS_ORIGINS"], default: "",
                  "comma-separated origins allowed by CORS, or * for any; empty allows none"),
        ConfigKey("server.trusted_proxies", env: ["CHATD_TRUSTED_PROXIES"], default: "",
                  "reverse proxies (IP addresses or CIDR ranges, comma-separated) whose X-Forwarded-For is believed for the client address"),
        ConfigKey("store.url", env: ["CHATD_STORE", "MONGODB_URI"], flag: "store",
                  "sqlite:///path/chatd.sqlite or mongodb://host/db; default: chatd.sqlite in the state directory"),
        ConfigKey("rabbitmq.url", env: ["RABBITMQ_URL"], flag: "rabbitmq-url",
                  default: "amqp://guest:guest@127.0.0.1:5672/", secret: true, "AMQP URL of the broker"),
        ConfigKey("rabbitmq.updates_exchange", env: ["RABBITMQ_UPDATES_EXCHANGE"], default: "chat3_updates",
                  "topic exchange Chat3 publishes per-user updates to"),
        ConfigKey("rabbitmq.events_exchange", env: ["CHATD_EVENTS_EXCHANGE"], default: "chatd_events",
                  "fanout exchange chatd instances relay presence and typing over"),
        ConfigKey("rabbitmq.management_url", env: ["RABBITMQ_MANAGEMENT_URL"],
                  default: "http://guest:guest@127.0.0.1:15672", secret: true,
                  "RabbitMQ management API, for chatctl queue commands"),
        ConfigKey("rabbitmq.queue_template", default: "chatpapp_user_{userId}_updates",
                  "name of a user's update queue; {userId} and {instance} are replaced"),
        ConfigKey("rabbitmq.instance", env: ["CHATD_INSTANCE"], default: "",
                  "this instance's name when several chatd share RabbitMQ; then queue_template must contain {instance}"),
        ConfigKey("rabbitmq.bindings", default: "user.{userId}.*,update.*.*.{userId}.*",
                  "routing keys binding a user's queue to the updates exchange (seed-era and current Chat3)"),
        ConfigKey("rabbitmq.queue_expires", default: "1h",
                  "how long a user's queue outlives its last socket (x-expires); 0 deletes it on disconnect"),
        ConfigKey("rabbitmq.subscribe_wait", default: "10s",
                  "how long a Socket.IO CONNECT waits for the user's update queue before it is answered anyway"),
        ConfigKey("rabbitmq.prefetch", default: "256", "unacknowledged deliveries per user queue's consumer (basic.qos applies to each consumer, not to their shared channel)"),
        ConfigKey("realtime.outbox_limit", default: "4194304",
                  "bytes a Socket.IO session may hold unwritten (a client not reading); past it the session is closed and its updates stay in RabbitMQ"),
        ConfigKey("realtime.instance_timeout", default: "15s",
                  "how long another chatd instance may be silent on the events exchange before its users count as offline here (each instance beats every third of it)"),
        ConfigKey("realtime.receipt_delay", default: "2s",
                  "how long an update written on a WebSocket may wait for the Engine.IO ping whose pong confirms it (then it is acked); one ping confirms everything written meanwhile, so longer means fewer pings and later acks; 0 pings after every write"),
        ConfigKey("realtime.recovery_window", default: "2m",
                  "how long a dropped Socket.IO socket that asked for connection-state recovery can resume with its rooms and missed packets; 0 turns recovery off"),
        ConfigKey("chat3.url", env: ["CHAT3_API_URL"], flag: "chat3-url", default: "http://127.0.0.1:3000/api",
                  "Chat3 tenant API base URL"),
        ConfigKey("chat3.api_key", env: ["CHAT3_API_KEY"], fileEnv: "CHAT3_API_KEY_FILE", secret: true,
                  "Chat3 API key, sent as X-API-Key"),
        ConfigKey("chat3.tenant", env: ["CHAT3_TENANT_ID"], flag: "tenant", default: "tnt_default",
                  "Chat3 tenant, sent as X-Tenant-ID"),
        ConfigKey("chat3.connect_timeout", default: "2s", "Chat3 connect timeout"),
        ConfigKey("chat3.request_timeout", default: "5s", "Chat3 request timeout"),
        ConfigKey("jwt.secret", env: ["JWT_SECRET"], fileEnv: "JWT_SECRET_FILE", secret: true,
                  "HS256 signing secret, at least 32 bytes; required unless dev"),
        ConfigKey("jwt.expires_in", env: ["JWT_EXPIRES_IN"], default: "48h", "token lifetime"),
        ConfigKey("control.socket", env: ["CHATD_CONTROL_SOCKET"], flag: "control-socket",
                  default: "/run/chatd/chatd.sock", "Unix socket of the control channel"),
        ConfigKey("control.operator_group", env: ["CHATD_OPERATOR_GROUP"], default: "chatd",
                  "group whose members may use the control socket"),
        ConfigKey("sms.sender", env: ["SMS_SENDER"],
                  "log (dev only), webhook or command; default log under dev, required otherwise"),
        ConfigKey("sms.command", env: ["SMS_COMMAND"],
                  "program run per code with SMS_PHONE and SMS_CODE in its environment"),
        ConfigKey("sms.webhook_url", env: ["SMS_WEBHOOK_URL"], secret: true, "URL that receives POST {phone, code}"),
        ConfigKey("auth.session_recheck", env: ["CHATD_SESSION_RECHECK"], default: "5s",
                  "how often open sockets are checked against the store: the most by which a token revoked or a user disabled by another process outlives its sockets"),
        ConfigKey("auth.code_length", env: ["AUTH_CODE_LENGTH"], default: "4", "digits in a one-time code (4 to 8)"),
        ConfigKey("auth.code_ttl", default: "5m", "how long a one-time code is valid"),
        ConfigKey("auth.max_attempts", default: "5", "wrong attempts that invalidate a code"),
        ConfigKey("auth.resend_cooldown", default: "60s", "minimum time between two codes for one phone"),
        ConfigKey("auth.phone_hourly_limit", default: "10", "codes per phone per hour"),
        ConfigKey("auth.ip_hourly_limit", default: "30", "code requests per client address (an IPv6 client as its /64) per hour"),
        ConfigKey("auth.verify_phone_hourly_limit", default: "10",
                  "wrong codes per phone per hour, over all its codes (then 429 with Retry-After)"),
        ConfigKey("auth.verify_ip_hourly_limit", default: "20",
                  "wrong codes or unknown phones per client address per hour (then 429 with Retry-After)"),
        ConfigKey("auth.phone_search_hourly_limit", default: "30",
                  "user searches by exact phone number per caller per hour (then 429 with Retry-After), so a list of numbers cannot be checked for who uses chatd"),
    ] + ServerLimits.keys

    public static func named(_ name: String) -> ConfigKey? { all.first { $0.name == name } }
}

extension ConfigKey {
    /// A commented example config file with every key and its default, generated from the table.
    public static func exampleFile() -> String {
        var lines = [
            "# chatd configuration. Precedence: flags > environment > this file > defaults.",
            "# Every key is shown with its default; uncomment to change. Secrets are better given as",
            "# <key>_file = \"/path\" (or the *_FILE environment variables) than written here.",
        ]
        var currentTable = ""
        for key in all {
            let parts = key.name.split(separator: ".")
            let table = parts.count > 1 ? String(parts[0]) : ""
            if table != currentTable {
                lines.append("")
                lines.append("[\(table)]")
                currentTable = table
            } else {
                lines.append("")
            }
            lines.append("# \(key.summary)")
            var overrides: [String] = key.environment
            if let fileEnvironment = key.fileEnvironment { overrides.append(fileEnvironment) }
            if let flag = key.flag { overrides.append("--\(flag)") }
            if !overrides.isEmpty { lines.append("# overridden by: \(overrides.joined(separator: ", "))") }
            let name = parts.last.map(String.init) ?? key.name
            let value = key.defaultValue.map(Self.tomlLiteral) ?? "\"\""
            lines.append("#\(name) = \(value)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func tomlLiteral(_ text: String) -> String {
        if text == "true" || text == "false" || Int(text) != nil { return text }
        return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
