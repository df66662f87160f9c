import Synchronization

/// A small map whose entries expire after `lifetime`; when full, expired entries are swept and, if still
/// full, the whole map is dropped (cheap, and a cache miss only costs one Chat3 call).
final class ExpiringCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry: Sendable {
        var value: Value
        var expires: ContinuousClock.Instant
    }

    private let lifetime: Duration
    private let capacity: Int
    private let clock: @Sendable () -> ContinuousClock.Instant
    private let entries = Mutex<[Key: Entry]>([:])

    init(lifetime: Duration, capacity: Int,
         clock: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.lifetime = lifetime
        self.capacity = max(1, capacity)
        self.clock = clock
    }

    subscript(key: Key) -> Value? {
        let now = clock()
        return entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            if entry.expires > now { return entry.value }
            entries[key] = nil
            return nil
        }
    }

    func set(_ key: Key, _ value: Value) {
        let now = clock()
        entries.withLock { entries in
            if entries.count >= capacity {
                entries = entries.filter { $0.value.expires > now }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[key] = Entry(value: value, expires: now + lifetime)
        }
    }

    func remove(_ key: Key) { _ = entries.withLock { $0.removeValue(forKey: key) } }

    func removeAll(where shouldRemove: (Key) -> Bool) {
        entries.withLock { entries in entries = entries.filter { !shouldRemove($0.key) } }
    }
}
