import Synchronization

/// Stops calling Chat3 during an outage so callers get `unavailable` at once instead of waiting out
/// timeouts. Closed: calls pass; `threshold` consecutive outage failures open it. Open: calls fail fast
/// for `cooldown`. Then one probe call is let through (half-open): success closes the breaker, failure
/// opens it for another cooldown.
public final class CircuitBreaker: Sendable {
    public enum State: String, Sendable {
        case closed
        case open
        case halfOpen = "half_open"
    }

    private struct Book {
        var consecutiveFailures = 0
        var openUntil: ContinuousClock.Instant?
        var probeInFlight = false
    }

    private let threshold: Int
    private let cooldown: Duration
    private let clock: @Sendable () -> ContinuousClock.Instant
    private let book = Mutex(Book())

    public init(threshold: Int, cooldown: Duration,
                clock: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.threshold = max(1, threshold)
        self.cooldown = cooldown
        self.clock = clock
    }

    /// Whether a call may go out now. A `true` during half-open makes this call the probe; the caller must
    /// then report its outcome with `record`.
    func permit() -> Bool {
        let now = clock()
        return book.withLock { book in
            guard let until = book.openUntil else { return true }
            if now < until || book.probeInFlight { return false }
            book.probeInFlight = true
            return true
        }
    }

    func record(success: Bool) {
        let now = clock()
        book.withLock { book in
            book.probeInFlight = false
            if success {
                book.consecutiveFailures = 0
                book.openUntil = nil
                return
            }
            book.consecutiveFailures += 1
            if book.openUntil != nil || book.consecutiveFailures >= threshold {
                book.openUntil = now + cooldown
            }
        }
    }

    public var state: State {
        let now = clock()
        return book.withLock { book in
            guard let until = book.openUntil else { return .closed }
            return now < until ? .open : .halfOpen
        }
    }
}
