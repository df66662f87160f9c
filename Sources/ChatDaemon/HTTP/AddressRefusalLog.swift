import Logging
import Synchronization

/// Says which client address a per-address cap refused, so an operator can tell an office or carrier
/// NAT (raise the cap) from one abusive host (leave it): the metric only counts. At most one line per
/// address and limit per `quietInterval`, so a flood from one address is one line, not thousands.
public final class AddressRefusalLog: Sendable {
    private let logger: Logger
    private let quietInterval: Duration
    /// When each (limit, address) was last logged; forgotten once older than `quietInterval`.
    private let lastLogged = Mutex<[String: ContinuousClock.Instant]>([:])

    public init(logger: Logger, quietInterval: Duration = .seconds(60)) {
        self.logger = logger
        self.quietInterval = quietInterval
    }

    /// - Parameters: limit, the `chatd_limit_hits_total` label; address, as the cap counts it (an
    ///   IPv6 client as its /64); cap, the configured maximum.
    public func refused(limit: String, address: String, cap: Int) {
        let now = ContinuousClock.now
        let due = lastLogged.withLock { logged -> Bool in
            let key = "\(limit) \(address)"
            if let last = logged[key], now - last < quietInterval { return false }
            // Bounded by the addresses refused within one interval; old entries go when it grows.
            if logged.count >= 10_000 { logged = logged.filter { now - $0.value < quietInterval } }
            logged[key] = now
            return true
        }
        guard due else { return }
        logger.warning("per-address limit reached; further refusals of this address are not logged for a while", metadata: [
            "limit": "\(limit)", "client.address": "\(address)", "limit.max": "\(cap)",
        ])
    }
}
