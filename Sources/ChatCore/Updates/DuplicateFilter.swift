/// Remembers recently seen update keys so a repeated delivery is emitted once. Bounded in both time and
/// count, so memory stays flat however many updates pass. Not thread-safe: one owner calls it.
public struct DuplicateFilter: Sendable {
    public let window: Double
    public let capacity: Int
    private var seenAt: [String: Double] = [:]
    private var order: [(key: String, time: Double)] = []
    private var head = 0

    public init(window: Double = 600, capacity: Int = 100_000) {
        self.window = window
        self.capacity = capacity
    }

    /// Records `key` and returns true if it was not seen within the window.
    public mutating func firstSighting(of key: String, at now: Double) -> Bool {
        if contains(key, at: now) { return false }
        record(key, at: now)
        return true
    }

    /// Whether `key` was recorded within the window.
    public mutating func contains(_ key: String, at now: Double) -> Bool {
        evict(before: now - window)
        if let time = seenAt[key], time >= now - window { return true }
        return false
    }

    /// Records `key` as seen at `now`. The pipeline calls it only once an update was delivered, so a
    /// redelivery of one that never reached a socket is not taken for a repeat.
    public mutating func record(_ key: String, at now: Double) {
        evict(before: now - window)
        seenAt[key] = now
        order.append((key, now))
        while seenAt.count > capacity { dropOldest() }
    }

    private mutating func evict(before cutoff: Double) {
        while head < order.count, order[head].time < cutoff { dropOldest() }
    }

    private mutating func dropOldest() {
        guard head < order.count else { return }
        let (key, time) = order[head]
        if seenAt[key] == time { seenAt[key] = nil }
        head += 1
        // Compact now and then so the array does not grow without bound.
        if head > 1024, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
