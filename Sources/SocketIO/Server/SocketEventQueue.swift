/// The per-socket bounds on client events (`SocketIOServer.Configuration.events`).
public struct SocketEventLimits: Sendable, Hashable {
    /// Events whose handler runs at once; later ones wait, and start in the order they arrived.
    public var inFlight: Int
    /// Events waiting behind those in flight; one more disconnects the socket.
    public var queue: Int
    /// Sustained events per second (a token bucket holding `2 × perSecond`); faster disconnects the socket.
    public var perSecond: Double

    /// An EVENT packet's size in bytes (its Socket.IO text form); a larger one is refused without being
    /// parsed (`socket_event_size`): an ack with an error if the client asked for one, else dropped. The
    /// socket stays connected. Unbounded unless set (chatd sets it).
    public var maxBytes: Int

    public init(inFlight: Int = 4, queue: Int = 64, perSecond: Double = 20, maxBytes: Int = .max) {
        self.inFlight = max(1, inFlight)
        self.queue = max(0, queue)
        self.perSecond = perSecond
        self.maxBytes = max(1, maxBytes)
    }

    var burst: Double { max(1, perSecond * 2) }
}

/// A limit a socket or session went past. `name` is the label of `chatd_limit_hits_total`; the client
/// gets `limit:exceeded {limit, message}` before the server disconnects it.
public enum SocketIOLimit: String, Sendable, Hashable, CaseIterable {
    case eventRate = "socket_event_rate"
    case eventQueue = "socket_event_queue"
    /// Not a disconnect: the one event is refused (`SocketIOServer.oversizedEventReply`).
    case eventSize = "socket_event_size"
    case packetsPerPost = "post_packets"
    case connectTimeout = "connect_timeout"
    case sessions = "sessions"
    case sessionsPerAddress = "sessions_per_address"

    public var name: String { rawValue }

    public var message: String {
        switch self {
        case .eventRate: "Too many events per second"
        case .eventQueue: "Too many events waiting"
        case .eventSize: "Event too large"
        case .packetsPerPost: "Too many packets in one request"
        case .connectTimeout: "No CONNECT in time"
        case .sessions: "Too many sessions"
        case .sessionsPerAddress: "Too many sessions from this address"
        }
    }
}

/// One socket's client events: a token bucket for the rate, then at most `inFlight` running and
/// `queue` waiting.
struct SocketEventQueue {
    struct Pending {
        var event: SocketIOEvent
        var ackID: Int?
    }

    enum Admission {
        /// Run it now.
        case start(Pending)
        case queued
        case refused(SocketIOLimit)
    }

    private let limits: SocketEventLimits
    private var running = 0
    private var waiting: [Pending] = []
    private var head = 0
    private var tokens: Double
    private var refilled: ContinuousClock.Instant

    init(limits: SocketEventLimits, now: ContinuousClock.Instant) {
        self.limits = limits
        tokens = limits.burst
        refilled = now
    }

    mutating func admit(_ pending: Pending, now: ContinuousClock.Instant) -> Admission {
        guard takeToken(now: now) else { return .refused(.eventRate) }
        if running < limits.inFlight {
            running += 1
            return .start(pending)
        }
        guard waiting.count - head < limits.queue else { return .refused(.eventQueue) }
        waiting.append(pending)
        return .queued
    }

    /// One event's share of the rate (a refused event costs it too); false when the bucket is empty.
    mutating func takeToken(now: ContinuousClock.Instant) -> Bool {
        let elapsed = now - refilled
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        tokens = min(limits.burst, tokens + seconds * limits.perSecond)
        refilled = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// One handler finished; returns the next event to start, if one waits.
    mutating func finished() -> Pending? {
        guard head < waiting.count else {
            running -= 1
            waiting.removeAll(keepingCapacity: true)
            head = 0
            return nil
        }
        let next = waiting[head]
        head += 1
        if head > 32, head * 2 > waiting.count {
            waiting.removeFirst(head)
            head = 0
        }
        return next
    }
}
