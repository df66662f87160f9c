import ChatAMQP

/// How a publishing run went.
struct PublishStats: Sendable, Encodable {
    var attempted = 0
    var published = 0
    var failed = 0
    var firstError: String?
    /// Seconds from the first publish to the last one handed to the publisher.
    var issueSeconds = 0.0
    /// Seconds from the first publish to the last broker confirm.
    var confirmSeconds = 0.0
    var achievedRate = 0.0
    /// Monotonic clock at the first publish; for computing rates, not printed.
    var startedAt: UInt64 = 0

    enum CodingKeys: String, CodingKey {
        case attempted, published, failed, firstError, issueSeconds, confirmSeconds, achievedRate
    }
}

/// Publishes `count` updates round-robin over `userIds`, paced at `rate` per second (0: as fast as the
/// broker confirms, with at most `maxInFlight` unconfirmed).
enum UpdateBurst {
    static func publish(count: Int, rate: Double, maxInFlight: Int, userIds: [String], factory: UpdateFactory,
                        exchange: String, publisher: AMQPPublisher) async -> PublishStats {
        let start = monotonicNanoseconds()
        let interval = rate > 0 ? 1e9 / rate : 0
        return await withTaskGroup(of: String?.self) { group in
            var stats = PublishStats(attempted: count, startedAt: start)
            var inFlight = 0
            var lastIssue = start
            for sequence in 0..<count {
                if interval > 0 {
                    let due = start + UInt64(Double(sequence) * interval)
                    let now = monotonicNanoseconds()
                    // Sleep only when ahead by more than the timer's granularity; a late tick catches up.
                    if due > now + 500_000 { try? await Task.sleep(nanoseconds: due - now) }
                }
                while inFlight >= maxInFlight, let outcome = await group.next() {
                    inFlight -= 1
                    record(outcome, into: &stats)
                }
                let userId = userIds[sequence % userIds.count]
                group.addTask {
                    let body = factory.body(sequence: sequence, userId: userId, sentAt: monotonicNanoseconds())
                    do {
                        try await publisher.publish(exchange: exchange, routingKey: factory.routingKey(userId: userId),
                                                    body: body, persistent: true)
                        return nil
                    } catch {
                        return "\(error)"
                    }
                }
                inFlight += 1
                lastIssue = monotonicNanoseconds()
                if sequence > 0, sequence % 20_000 == 0 { Progress.say("published \(sequence)/\(count)") }
            }
            for await outcome in group { record(outcome, into: &stats) }
            let end = monotonicNanoseconds()
            stats.issueSeconds = rounded(Double(lastIssue - start) / 1e9, places: 3)
            stats.confirmSeconds = rounded(Double(end - start) / 1e9, places: 3)
            stats.achievedRate = rounded(Double(count) / max(Double(lastIssue - start) / 1e9, 1e-9), places: 1)
            return stats
        }
    }

    private static func record(_ outcome: String?, into stats: inout PublishStats) {
        if let outcome {
            stats.failed += 1
            if stats.firstError == nil { stats.firstError = outcome }
        } else {
            stats.published += 1
        }
    }
}
