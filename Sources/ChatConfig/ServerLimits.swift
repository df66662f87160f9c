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
    /// A request's body must be complete within this time of its head (a trickled body is not idle).
    public var requestBodyTimeout: Double = 60
    public var maxConnections: Int = 10_000
    /// Connections from one client address (trusted proxies are exempt).
    public var maxConnectionsPerAddress: Int = 256

    public var pingInterval: Double = 25
    public var pingTimeout: Double = 20
    /// `maxHttpBufferSize`: the largest polling POST body or WebSocket message, in bytes.
    public var maxPayload: Int = 1_000_000
    /// An Engine.IO session that sends no Socket.IO CONNECT within this time is closed.
    public var connectTimeout: Double = 45
    public var maxSessions: Int = 10_000
    /// Engine.IO sessions per client address (behind a trusted proxy, the forwarded address).
    public var maxSessionsPerAddress: Int = 256
    /// Engine.IO packets in one polling POST.
    public var maxPacketsPerPost: Int = 100
    /// A socket's events handled at once; later ones wait, and start in order.
    public var eventsInFlight: Int = 4
    /// A socket's events waiting behind those in flight; one more disconnects the socket.
    public var eventQueue: Int = 64
    /// Sustained events per second per socket (bursts up to twice this); faster disconnects the socket.
    public var eventsPerSecond: Double = 20
    /// A Socket.IO EVENT packet, in bytes; a larger one is refused without being parsed (acked with
    /// `payload_too_large` if the client asked), the socket stays connected.
    public var maxEventBytes: Int = 16_384
    /// `typing:start`/`typing:stop` relayed at most once per socket and dialog in this interval.
    public var typingInterval: Double = 1
    /// How long a "not a member" answer from Chat3 is reused for the same user and dialog.
    public var membershipRefusalTTL: Double = 5

    /// A message's `content`: Unicode characters (scalars, not grapheme clusters, which have no size
    /// bound) and UTF-8 bytes.
    public var maxContentCharacters: Int = 4096
    public var maxContentBytes: Int = 16_384
    /// A message's `meta`, serialized, in bytes; and each value's.
    public var maxMetaBytes: Int = 16_384
    public var maxMetaValueBytes: Int = 4096

    public init() {}

    init(_ reader: TypedReader) throws(ConfigError) {
        shutdownTimeout = try reader.duration("server.shutdown_timeout", positive: true)
        idleTimeout = try reader.duration("server.idle_timeout", positive: true)
        requestHeadTimeout = try reader.duration("server.request_head_timeout", positive: true)
        requestBodyTimeout = try reader.duration("server.request_body_timeout", positive: true)
        maxConnections = try reader.int("server.max_connections", in: 1...1_000_000)
        maxConnectionsPerAddress = try reader.int("server.max_connections_per_address", in: 1...1_000_000)
        pingInterval = try reader.duration("socketio.ping_interval", positive: true)
        pingTimeout = try reader.duration("socketio.ping_timeout", positive: true)
        maxPayload = try reader.int("socketio.max_payload", in: 1024...100_000_000)
        connectTimeout = try reader.duration("socketio.connect_timeout", positive: true)
        maxSessions = try reader.int("socketio.max_sessions", in: 1...1_000_000)
        maxSessionsPerAddress = try reader.int("socketio.max_sessions_per_address", in: 1...1_000_000)
        maxPacketsPerPost = try reader.int("socketio.max_packets_per_post", in: 1...100_000)
        eventsInFlight = try reader.int("socketio.events_in_flight", in: 1...1000)
        eventQueue = try reader.int("socketio.event_queue", in: 0...100_000)
        eventsPerSecond = Double(try reader.int("socketio.events_per_second", in: 1...100_000))
        maxEventBytes = try reader.int("socketio.max_event_bytes", in: 64...100_000_000)
        typingInterval = try reader.duration("socketio.typing_interval")
        membershipRefusalTTL = try reader.duration("socketio.membership_refusal_ttl")
        maxContentCharacters = try reader.int("messages.max_content_chars", in: 1...1_000_000)
        maxContentBytes = try reader.int("messages.max_content_bytes", in: 4...4_000_000)
        maxMetaBytes = try reader.int("messages.max_meta_bytes", in: 2...1_000_000)
        maxMetaValueBytes = try reader.int("messages.max_meta_value_bytes", in: 1...1_000_000)
    }

    /// The limit keys, in the order `ConfigKey.all` lists them.
    static let keys: [ConfigKey] = [
        ConfigKey("server.shutdown_timeout", default: "10s",
                  "SIGTERM to exit: drain, close sockets, then close connections still open; keep below TimeoutStopSec"),
        ConfigKey("server.idle_timeout", default: "60s", "an HTTP keep-alive connection idle this long is closed"),
        ConfigKey("server.request_head_timeout", default: "10s",
                  "a new connection must send a complete request head within this time, else 408 and close"),
        ConfigKey("server.request_body_timeout", default: "60s",
                  "a request's body must be complete within this time of its head, else 408 and close (a body trickled byte by byte never looks idle)"),
        ConfigKey("server.max_connections", default: "10000", "open HTTP connections; past it new ones get 503 and close"),
        ConfigKey("server.max_connections_per_address", default: "256",
                  "open connections per client address (trusted proxies exempt); past it 503 and close"),
        ConfigKey("socketio.ping_interval", default: "25s", "Engine.IO heartbeat interval (pingInterval)"),
        ConfigKey("socketio.ping_timeout", default: "20s", "how long a pong may take before the session closes (pingTimeout)"),
        ConfigKey("socketio.max_payload", default: "1000000",
                  "largest polling POST body or WebSocket message in bytes (maxHttpBufferSize)"),
        ConfigKey("socketio.connect_timeout", default: "45s",
                  "an Engine.IO session that sends no Socket.IO CONNECT within this time is closed"),
        ConfigKey("socketio.max_sessions", default: "10000", "open Engine.IO sessions; past it the handshake gets 503"),
        ConfigKey("socketio.max_sessions_per_address", default: "256",
                  "open Engine.IO sessions per client address (the forwarded one behind a trusted proxy); past it 429"),
        ConfigKey("socketio.max_packets_per_post", default: "100",
                  "Engine.IO packets in one polling POST; more closes the session"),
        ConfigKey("socketio.events_in_flight", default: "4", "a socket's events handled at once, started in order of arrival"),
        ConfigKey("socketio.event_queue", default: "64",
                  "a socket's events waiting behind those in flight; one more disconnects the socket (limit:exceeded)"),
        ConfigKey("socketio.events_per_second", default: "20",
                  "sustained events per second per socket (bursts of twice that); faster disconnects the socket (limit:exceeded)"),
        ConfigKey("socketio.max_event_bytes", default: "16384",
                  "a Socket.IO event in bytes (one EVENT packet, or a BINARY_EVENT with its attachments); a larger one is refused unparsed, acked with payload_too_large if the client asked, else dropped; the socket stays (every chatd event is under 200 bytes)"),
        ConfigKey("socketio.typing_interval", default: "1s",
                  "typing:start/typing:stop relayed at most once per socket and dialog in this interval"),
        ConfigKey("socketio.membership_refusal_ttl", default: "5s",
                  "how long Chat3's \"not a member\" answer is reused for the same user and dialog"),
        ConfigKey("messages.max_content_chars", default: "4096", "a message's content in Unicode characters (not grapheme clusters)"),
        ConfigKey("messages.max_content_bytes", default: "16384", "a message's content in UTF-8 bytes"),
        ConfigKey("messages.max_meta_bytes", default: "16384", "a message's meta object, serialized, in bytes"),
        ConfigKey("messages.max_meta_value_bytes", default: "4096", "each meta value, serialized, in bytes"),
    ]
}
