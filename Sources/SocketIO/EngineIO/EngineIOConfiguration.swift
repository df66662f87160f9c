import ChatCore

/// Engine.IO server settings; the defaults are the reference server's and SPEC §5's.
public struct EngineIOConfiguration: Sendable, Hashable {
    /// How often the server pings each session.
    public var pingInterval: Duration
    /// How long the server waits for the pong before closing the session.
    public var pingTimeout: Duration
    /// `maxHttpBufferSize`: the largest POST body or WebSocket frame accepted, in bytes.
    public var maxPayload: Int
    /// How long a WebSocket may take from attaching to sending the `upgrade` packet.
    public var upgradeTimeout: Duration
    /// How long a session the server closed waits for the client's next poll to learn about it.
    public var closeTimeout: Duration
    /// The most a session may hold in packets not yet written to its client, in bytes (UTF-8 of the
    /// encoded packets), polling and WebSocket alike; past it the session is closed.
    public var maxBufferedBytes: Int
    /// Packets in one polling POST; more closes the session (one WebSocket frame is one packet).
    public var maxPacketsPerPost: Int
    /// How long a tracked packet written on a WebSocket may wait for the ping whose pong confirms it
    /// (see `EngineIOSession`'s receipts). Zero pings at once; longer lets one ping confirm the
    /// packets of several writes, at the cost of later receipts.
    public var receiptDelay: Duration
    /// Tracked packets waiting for a receipt that make one ping at once, whatever the delay and even
    /// while another receipt ping is out, so the unconfirmed stay bounded.
    public var receiptBatch: Int

    public init(
        pingInterval: Duration = .milliseconds(25_000),
        pingTimeout: Duration = .milliseconds(20_000),
        maxPayload: Int = 1_000_000,
        upgradeTimeout: Duration = .seconds(10),
        closeTimeout: Duration = .seconds(30),
        maxBufferedBytes: Int = 4 << 20,
        maxPacketsPerPost: Int = 100,
        receiptDelay: Duration = .zero,
        receiptBatch: Int = 64
    ) {
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.maxPayload = maxPayload
        self.upgradeTimeout = upgradeTimeout
        self.closeTimeout = closeTimeout
        self.maxBufferedBytes = maxBufferedBytes
        self.maxPacketsPerPost = maxPacketsPerPost
        self.receiptDelay = receiptDelay
        self.receiptBatch = max(1, receiptBatch)
    }

    /// The `open` packet's JSON. Upgrades are offered only to polling sessions.
    public func handshakeJSON(sid: String, upgrades: [String]) -> String {
        var json = JSONWriter()
        json.writeRaw("{\"sid\":")
        json.writeString(sid)
        json.writeRaw(",\"upgrades\":")
        json.write(.array(upgrades.map(JSONValue.string)))
        json.writeRaw(",\"pingInterval\":\(pingInterval.milliseconds)")
        json.writeRaw(",\"pingTimeout\":\(pingTimeout.milliseconds)")
        json.writeRaw(",\"maxPayload\":\(maxPayload)}")
        return json.text
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
