/// The bounds that keep one client from hurting another: time, connections, sessions, event rates and
/// sizes. Every field is a config key (`ConfigKey.all`, the `server.*`, `socketio.*` and `messages.*`
/// limit keys); the defaults are the documented ones. Each limit, when hit, counts in `/metrics` as
/// `chatd_limit_hits_total{limit="<name>"}`.
public struct ServerLimits: Sendable, Equatable {
    /// SIGTERM to exit: after this, connections still open are closed (below systemd's TimeoutStopSec).
    public var shutdownTimeout: Double = 10
    /// An HTTP keep-alive connection with no request for this long is closed.
    public var idleTimeout: Double = 60
    /// A new connection must send its first complete request head within this time.
    public var requestHeadTimeout: Double = 10
    public var maxConnections: Int = 10_000
    /// Connections from one client address (trusted proxies are exempt).
    public var maxConnectionsPerAddress: Int = 256

    public var pingInterval: Double = 25
    public var pingTimeout: Double = 20
    /// `maxHttpBufferSize`: the largest polling POST body or WebSocket message, in bytes.
    public var maxPayload: Int = 1_000_000

    public init() {}

    init(_ reader: TypedReader) throws(ConfigError) {
        shutdownTimeout = try reader.duration("server.shutdown_timeout", positive: true)
        idleTimeout = try reader.duration("server.idle_timeout", positive: true)
        requestHeadTimeout = try reader.duration("server.request_head_timeout", positive: true)
        maxConnections = try reader.int("server.max_connections", in: 1...1_000_000)
        maxConnectionsPerAddress = try reader.int("server.max_connections_per_address", in: 1...1_000_000)
        pingInterval = try reader.duration("socketio.ping_interval", positive: true)
        pingTimeout = try reader.duration("socketio.ping_timeout", positive: true)
        maxPayload = try reader.int("socketio.max_payload", in: 1024...100_000_000)
    }

    /// The limit keys, in the order `ConfigKey.all` lists them.
    static let keys: [ConfigKey] = [
        ConfigKey("server.shutdown_timeout", default: "10s",
                  "SIGTERM to exit: drain, close sockets, then close connections still open; keep below TimeoutStopSec"),
        ConfigKey("server.idle_timeout", default: "60s", "an HTTP keep-alive connection idle this long is closed"),
        ConfigKey("server.request_head_timeout", default: "10s",
                  "a new connection must send a complete request head within this time, else 408 and close"),
        ConfigKey("server.max_connections", default: "10000", "open HTTP connections; past it new ones get 503 and close"),
        ConfigKey("server.max_connections_per_address", default: "256",
                  "open connections per client address (trusted proxies exempt); past it 503 and close"),
        ConfigKey("socketio.ping_interval", default: "25s", "Engine.IO heartbeat interval (pingInterval)"),
        ConfigKey("socketio.ping_timeout", default: "20s", "how long a pong may take before the session closes (pingTimeout)"),
        ConfigKey("socketio.max_payload", default: "1000000",
                  "largest polling POST body or WebSocket message in bytes (maxHttpBufferSize)"),
    ]
}
