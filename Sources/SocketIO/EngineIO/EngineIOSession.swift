/// The state machine of one Engine.IO session, transport-agnostic and pure: callers pass the time in
/// and perform the returned effects, so every transition can be tested without sockets or clocks.
public struct EngineIOSession: Sendable {
    public typealias Instant = ContinuousClock.Instant

    public enum State: Sendable, Hashable {
        /// HTTP long-polling.
        case polling
        /// A WebSocket is attached and being probed; polling carries traffic until `upgrade`. Once
        /// probed, polling is paused: GETs get `noop` and outgoing packets wait for the WebSocket.
        case upgrading(probed: Bool)
        case webSocket
        /// The server closed a polling session; the client learns it on its next GET.
        case closing
        case closed(EngineIOCloseReason)
    }

    public let sid: String
    public private(set) var state: State
    /// A polling GET is waiting for packets.
    public private(set) var isPollPending = false
    /// A polling POST is being processed.
    public private(set) var isPostInFlight = false

    private let configuration: EngineIOConfiguration
    /// Encoded packets waiting for the next polling GET, with their tracking numbers (0: untracked).
    private var outbox: [(packet: String, tag: UInt64)] = []
    /// UTF-8 bytes in `outbox`, bounded by `maxBufferedBytes`.
    private var outboxBytes = 0
    private var pingDue: Instant?
    private var pongDeadline: Instant?
    /// Tracked packets written on the WebSocket since the last ping went out.
    private var unconfirmed: [UInt64] = []
    /// When the oldest of `unconfirmed` was written (nil: not known, so its receipt is due at once).
    private var unconfirmedSince: Instant?
    /// Pings sent and not yet answered, oldest first, each with the tracked packets written before it.
    /// A client answers pings in order and only after handling every packet before them, so a pong is
    /// the receipt for the packets written before its ping (see `received`).
    private var pingsAwaitingPong: [(confirms: [UInt64], heartbeat: Bool)] = []
    private var upgradeDeadline: Instant?
    private var closeDeadline: Instant?

    /// A new session. WebSocket sessions write their `open` packet at once; polling sessions answer the
    /// handshake GET with `openPacket`.
    public init(sid: String, transport: EngineIOTransport, configuration: EngineIOConfiguration, now: Instant) {
        self.sid = sid
        self.configuration = configuration
        self.state = transport == .polling ? .polling : .webSocket
        self.pingDue = now + configuration.pingInterval
    }

    /// `0{"sid":...}`: the handshake. Only polling sessions are offered the WebSocket upgrade.
    public static func openPacket(
        sid: String, transport: EngineIOTransport, configuration: EngineIOConfiguration
    ) -> String {
        let upgrades = transport == .polling ? [EngineIOTransport.websocket.rawValue] : []
        return "0" + configuration.handshakeJSON(sid: sid, upgrades: upgrades)
    }

    /// The earliest time `tick` has work to do.
    public var nextDeadline: Instant? {
        [pingDue, pongDeadline, upgradeDeadline, closeDeadline, receiptDue].compactMap { $0 }.min()
    }

    public var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    private var hasWebSocket: Bool {
        switch state {
        case .upgrading, .webSocket: true
        default: false
        }
    }

    // MARK: Polling

    /// A polling GET arrived. Answers at once with queued packets, or marks the poll pending.
    public mutating func poll(now: Instant) -> EngineIOTransition {
        switch state {
        case .closed:
            return EngineIOTransition(rejection: .unknownSessionID)
        case .webSocket:
            // After the upgrade the reference server refuses polling but keeps the session.
            return EngineIOTransition(rejection: .badRequest)
        case .closing:
            let (packets, tags) = drainOutbox()
            let body = EngineIOPayload.encode(packets + [EngineIOPacket(.close).encoded])
            state = .closed(.serverRequested)
            closeDeadline = nil
            return EngineIOTransition(effects: [.respondToPoll(body, carrying: tags), .closed(.serverRequested)])
        case .polling, .upgrading:
            if isPollPending {
                return EngineIOTransition(
                    effects: terminate(.overlappingPoll, pollReply: EngineIOPacket(.close).encoded),
                    rejection: .badRequest)
            }
            isPollPending = true
            if state == .upgrading(probed: true) {
                return EngineIOTransition(effects: answerPoll(EngineIOPacket(.noop).encoded))
            }
            return EngineIOTransition(effects: flushPoll())
        }
    }

    /// The pending GET went away (the client hung up); the next GET will collect the packets.
    public mutating func pollCancelled() {
        isPollPending = false
    }

    /// The connection of the pending GET closed: the client is gone, as engine.io treats it (a
    /// transport error), so the session ends now rather than at the ping timeout.
    public mutating func pollConnectionClosed() -> [EngineIOEffect] {
        guard isPollPending, state == .polling else { return [] }
        return terminate(.pollConnectionClosed, pollReply: EngineIOPacket(.noop).encoded)
    }

    /// A polling POST body arrived. Call `postFinished()` once the delivered messages are handled.
    public mutating func post(_ body: String, now: Instant) -> EngineIOTransition {
        switch state {
        case .closed:
            return EngineIOTransition(rejection: .unknownSessionID)
        case .webSocket, .closing:
            return EngineIOTransition(rejection: .badRequest)
        case .polling, .upgrading:
            break
        }
        if isPostInFlight {
            return EngineIOTransition(
                effects: terminate(.overlappingPost, pollReply: EngineIOPacket(.close).encoded),
                rejection: .badRequest)
        }
        let packets: [EngineIOPacket]
        do {
            packets = try EngineIOPayload.decode(body, maxPayload: configuration.maxPayload)
        } catch .payloadTooLarge {
            return EngineIOTransition(
                effects: terminate(.payloadTooLarge, pollReply: EngineIOPacket(.close).encoded),
                rejection: .payloadTooLarge)
        } catch {
            return EngineIOTransition(
                effects: terminate(.parseError(error), pollReply: EngineIOPacket(.close).encoded),
                rejection: .badRequest)
        }
        guard packets.count <= configuration.maxPacketsPerPost else {
            return EngineIOTransition(
                effects: terminate(.tooManyPackets, pollReply: EngineIOPacket(.close).encoded),
                rejection: .tooManyPackets)
        }
        isPostInFlight = true
        var effects: [EngineIOEffect] = []
        for packet in packets where !isClosed {
            effects += receive(packet, now: now)
        }
        return EngineIOTransition(effects: effects)
    }

    public mutating func postFinished() {
        isPostInFlight = false
    }

    // MARK: WebSocket

    /// A WebSocket arrived for this (polling) session: the upgrade starts. Refused otherwise, e.g. a
    /// second WebSocket for an upgraded session.
    public mutating func attachWebSocket(now: Instant) -> EngineIOTransition {
        guard state == .polling else { return EngineIOTransition(rejection: .badRequest) }
        state = .upgrading(probed: false)
        upgradeDeadline = now + configuration.upgradeTimeout
        return EngineIOTransition()
    }

    /// A text frame from the session's WebSocket.
    public mutating func webSocketText(_ text: String, now: Instant) -> [EngineIOEffect] {
        guard hasWebSocket else { return [] }
        guard text.utf8.count <= configuration.maxPayload else {
            return terminate(.payloadTooLarge, pollReply: EngineIOPacket(.close).encoded)
        }
        let packet: EngineIOPacket
        do {
            packet = try EngineIOPacket.decode(text)
        } catch {
            if case .upgrading = state { return abandonUpgrade() }
            return terminate(.parseError(error), pollReply: EngineIOPacket(.close).encoded)
        }
        return webSocketPacket(packet, now: now)
    }

    /// A binary frame from the session's WebSocket: a `message` packet carrying bytes.
    public mutating func webSocketBinary(_ bytes: [UInt8], now: Instant) -> [EngineIOEffect] {
        guard hasWebSocket else { return [] }
        guard bytes.count <= configuration.maxPayload else {
            return terminate(.payloadTooLarge, pollReply: EngineIOPacket(.close).encoded)
        }
        return webSocketPacket(EngineIOPacket(binary: bytes), now: now)
    }

    /// The session's WebSocket closed. During an upgrade the session falls back to polling.
    public mutating func webSocketClosed() -> [EngineIOEffect] {
        switch state {
        case .upgrading:
            state = .polling
            upgradeDeadline = nil
            return []
        case .webSocket:
            return terminate(.transportClosed, pollReply: EngineIOPacket(.close).encoded, closeWebSocket: false)
        default:
            return []
        }
    }

    private mutating func webSocketPacket(_ packet: EngineIOPacket, now: Instant) -> [EngineIOEffect] {
        guard case .upgrading(let probed) = state else { return receive(packet, now: now) }
        switch (packet.type, packet.data) {
        case (.ping, .text("probe")):
            state = .upgrading(probed: true)
            var effects = [EngineIOEffect.writeWebSocket(EngineIOPacket(.pong, "probe").encoded)]
            // The client pauses polling before sending `upgrade`; a noop releases its pending GET.
            if isPollPending { effects += answerPoll(EngineIOPacket(.noop).encoded) }
            return effects
        case (.upgrade, _) where probed:
            state = .webSocket
            upgradeDeadline = nil
            var effects: [EngineIOEffect] = []
            if isPollPending { effects += answerPoll(EngineIOPacket(.noop).encoded) }
            for entry in outbox { effects.append(.writeWebSocket(entry.packet, carrying: entry.tag)) }
            let (_, tags) = drainOutbox()
            return effects + askForReceipt(tags, now: now)
        default:
            return abandonUpgrade()
        }
    }

    /// The upgrade failed: drop the WebSocket, keep polling.
    private mutating func abandonUpgrade() -> [EngineIOEffect] {
        state = .polling
        upgradeDeadline = nil
        var effects = [EngineIOEffect.closeWebSocket]
        if isPollPending { effects += flushPoll() }
        return effects
    }

    // MARK: Packets both ways

    /// A packet from the client on the active transport.
    private mutating func receive(_ packet: EngineIOPacket, now: Instant) -> [EngineIOEffect] {
        switch packet.type {
        case .message:
            return [.deliver(packet.data)]
        case .ping:
            guard case .text(let data) = packet.data else { return [] }
            return send(EngineIOPacket(.pong, data).encoded)
        case .pong:
            // Only the answer to a ping counts: unsolicited pongs neither keep a session alive nor
            // move its heartbeat, nor confirm anything.
            guard !pingsAwaitingPong.isEmpty else { return [] }
            let answered = pingsAwaitingPong.removeFirst()
            if answered.heartbeat {
                pongDeadline = nil
                if pingDue == nil { pingDue = now + configuration.pingInterval }
            }
            let effects: [EngineIOEffect] = answered.confirms.isEmpty ? [] : [.received(answered.confirms)]
            // Packets written while that ping was out get a ping of their own, now or when due.
            return effects + receiptIfDue(now: now)
        case .close:
            // The pending GET is released with `6` (noop), as the reference server and the official
            // engine.io-protocol suite ("forcefully close the session") answer it.
            return terminate(.clientRequested, pollReply: EngineIOPacket(.noop).encoded)
        case .open, .upgrade, .noop:
            return []
        }
    }

    /// Whether `send` still takes packets.
    public var acceptsPackets: Bool {
        switch state {
        case .polling, .upgrading, .webSocket: true
        case .closing, .closed: false
        }
    }

    /// Queues or writes one encoded Engine.IO packet (e.g. `42["event"]`). A non-zero `tag` is reported
    /// back in the effect that writes or answers with the packet, so the owner can tell when it left.
    /// A polling outbox that grows past `maxBufferedBytes` ends the session (`outboxOverflow`).
    /// `now` dates a tracked WebSocket packet for `receiptDelay`; without it its receipt ping is due at once.
    public mutating func send(_ encodedPacket: String, tracking tag: UInt64 = 0, now: Instant? = nil) -> [EngineIOEffect] {
        switch state {
        case .webSocket:
            return [.writeWebSocket(encodedPacket, carrying: tag)] + askForReceipt(tag == 0 ? [] : [tag], now: now)
        case .polling, .upgrading:
            outbox.append((encodedPacket, tag))
            outboxBytes += encodedPacket.utf8.count
            if outboxBytes > configuration.maxBufferedBytes {
                return terminate(.outboxOverflow, pollReply: EngineIOPacket(.close).encoded)
            }
            return flushPoll()
        case .closing, .closed:
            return []
        }
    }

    /// Server-side close. A polling client without a pending GET learns it on its next GET.
    public mutating func close(now: Instant) -> [EngineIOEffect] {
        switch state {
        case .polling, .upgrading:
            if isPollPending || hasWebSocket {
                let (packets, tags) = drainOutbox()
                let reply = EngineIOPayload.encode(packets + [EngineIOPacket(.close).encoded])
                return terminate(.serverRequested, pollReply: reply, carrying: tags)
            }
            state = .closing
            pingDue = nil
            pongDeadline = nil
            closeDeadline = now + configuration.closeTimeout
            return []
        case .webSocket:
            return terminate(.serverRequested, pollReply: EngineIOPacket(.close).encoded)
        case .closing, .closed:
            return []
        }
    }

    /// Heartbeat and timeouts: sends the ping when due, closes when the pong is late.
    public mutating func tick(now: Instant) -> [EngineIOEffect] {
        if let closeDeadline, closeDeadline <= now, state == .closing {
            state = .closed(.serverRequested)
            self.closeDeadline = nil
            return [.closed(.serverRequested)]
        }
        if let pongDeadline, pongDeadline <= now {
            return terminate(.pingTimeout, pollReply: EngineIOPacket(.close).encoded)
        }
        var effects: [EngineIOEffect] = []
        if let upgradeDeadline, upgradeDeadline <= now, case .upgrading = state {
            effects += abandonUpgrade()
        }
        if let pingDue, pingDue <= now {
            self.pingDue = nil
            // The pong is due `pingTimeout` after the ping was due, not after the sweep noticed, so a
            // coarse sweep does not stretch the timeout; a sweep later than a whole timeout gives a full one.
            let scheduled = pingDue + configuration.pingTimeout
            pongDeadline = scheduled > now ? scheduled : now + configuration.pingTimeout
            effects += sendPing(heartbeat: true)
        }
        if let receiptDue, receiptDue <= now { effects += sendPing(heartbeat: false) }
        return effects
    }

    // MARK: Receipts

    /// A WebSocket has no receipts, and a frame the kernel took can still die with the connection.
    /// So tracked packets written on it count as received only once the client answers a ping sent
    /// after them (any ping: the heartbeat's confirms them too). A receipt ping goes out once the
    /// oldest waiting packet has waited `receiptDelay` and no ping is out, so one ping confirms the
    /// packets of every write in that time instead of one ping per write; or at once when
    /// `receiptBatch` packets wait, even with a ping out, so a busy socket's unconfirmed packets (and
    /// its user's unacknowledged updates) stay bounded.
    private mutating func askForReceipt(_ tags: [UInt64], now: Instant?) -> [EngineIOEffect] {
        guard !tags.isEmpty else { return [] }
        if unconfirmed.isEmpty { unconfirmedSince = now }
        unconfirmed += tags
        return receiptIfDue(now: now)
    }

    /// When the ping for the waiting packets is due if nothing else sends it first; nil while a ping
    /// is out (its pong brings the next decision) or nothing waits.
    private var receiptDue: Instant? {
        guard !unconfirmed.isEmpty, pingsAwaitingPong.isEmpty, let unconfirmedSince else { return nil }
        return unconfirmedSince + configuration.receiptDelay
    }

    /// The receipt ping for the waiting packets, if it is due (see `askForReceipt`).
    private mutating func receiptIfDue(now: Instant?) -> [EngineIOEffect] {
        guard !unconfirmed.isEmpty else { return [] }
        if unconfirmed.count >= configuration.receiptBatch { return sendPing(heartbeat: false) }
        guard pingsAwaitingPong.isEmpty else { return [] }
        if let now, let receiptDue, now < receiptDue { return [] }
        return sendPing(heartbeat: false)
    }

    /// Sends a ping, noting which tracked WebSocket packets its pong will confirm.
    private mutating func sendPing(heartbeat: Bool) -> [EngineIOEffect] {
        let effects = send(EngineIOPacket(.ping).encoded)
        guard acceptsPackets else { return effects }
        pingsAwaitingPong.append((state == .webSocket ? unconfirmed : [], heartbeat))
        if state == .webSocket {
            unconfirmed = []
            unconfirmedSince = nil
        }
        return effects
    }

    // MARK: Helpers

    /// Empties the outbox: its packets, and the tracking numbers among them.
    private mutating func drainOutbox() -> (packets: [String], tags: [UInt64]) {
        defer {
            outbox.removeAll(keepingCapacity: false)
            outboxBytes = 0
        }
        return (outbox.map(\.packet), outbox.compactMap { $0.tag == 0 ? nil : $0.tag })
    }

    /// Answers a pending, unpaused poll with everything queued.
    private mutating func flushPoll() -> [EngineIOEffect] {
        guard isPollPending, !outbox.isEmpty, state != .upgrading(probed: true) else { return [] }
        let (packets, tags) = drainOutbox()
        return answerPoll(EngineIOPayload.encode(packets), carrying: tags)
    }

    private mutating func answerPoll(_ body: String, carrying tags: [UInt64] = []) -> [EngineIOEffect] {
        isPollPending = false
        return [.respondToPoll(body, carrying: tags)]
    }

    /// Ends the session: releases the pending GET, closes the WebSocket, reports the reason.
    private mutating func terminate(
        _ reason: EngineIOCloseReason, pollReply: String, carrying tags: [UInt64] = [], closeWebSocket: Bool = true
    ) -> [EngineIOEffect] {
        var effects: [EngineIOEffect] = []
        if isPollPending { effects += answerPoll(pollReply, carrying: tags) }
        if closeWebSocket, hasWebSocket { effects.append(.closeWebSocket) }
        effects.append(.closed(reason))
        state = .closed(reason)
        outbox = []
        outboxBytes = 0
        unconfirmed = []
        unconfirmedSince = nil
        pingsAwaitingPong = []
        pingDue = nil
        pongDeadline = nil
        upgradeDeadline = nil
        closeDeadline = nil
        return effects
    }
}
