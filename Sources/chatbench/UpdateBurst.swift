import ChatAMQP

/// How a publishing run went.
struct PublishStats: Sendable, Encodable {
    var attempted = 0
    var published = 0
    var failed = 0
    var firstError: String?
    /// Seconds from the first publish to the last one handed to a publisher.
    var issueSeconds = 0.0
    /// Seconds from the first publish to the last broker confirm (with --no-confirms: the last write).
    var confirmSeconds = 0.0
    /// Updates handed to the publishers per second (count / issueSeconds): bounded by --max-in-flight.
    var achievedRate = 0.0
    /// Updates the broker took per second (published / confirmSeconds): the publishing side's own rate.
    var confirmedRate = 0.0
    /// Publisher connections the updates were split over, and whether each publish awaited a confirm.
    var publishers = 1
    var confirms = true
    /// Monotonic clock at the first publish; for computing rates, not printed.
    var startedAt: UInt64 = 0

    enum CodingKeys: String, CodingKey {
        case attempted, published, failed, firstError, issueSeconds, confirmSeconds, achievedRate, confirmedRate, publishers, confirms
    }
}

/// Publishes `count` updates round-robin over `userIds`, paced at `rate` per second in total (0: as fast
/// as the broker takes them, with at most `maxInFlight` unconfirmed in total).
///
/// With several publishers each gets its own lane: sequence numbers lane, lane + K, lane + 2K, … on its
/// own connection, issued by its own task with its share of `maxInFlight`, so neither one connection nor
/// one issuing loop bounds the rate.
enum UpdateBurst {
    static func publish(count: Int, rate: Double, maxInFlight: Int, userIds: [String], factory: UpdateFactory,
                        exchange: String, pool: PublisherPool) async -> PublishStats {
        let start = monotonicNanoseconds()
        let interval = rate > 0 ? 1e9 / rate : 0
        let lanes = pool.publishers.count
        let laneInFlight = max(1, maxInFlight / lanes)
        let results = await withTaskGroup(of: LaneResult.self) { group in
            for lane in 0..<lanes {
                let publisher = pool.publishers[lane]
                group.addTask {
                    await publishLane(lane: lane, lanes: lanes, count: count, start: start, interval: interval,
                                      maxInFlight: laneInFlight, userIds: userIds, factory: factory,
                                      exchange: exchange, publisher: publisher)
                }
            }
            var all: [LaneResult] = []
            for await result in group { all.append(result) }
            return all
        }
        let end = monotonicNanoseconds()
        var stats = PublishStats(attempted: count, publishers: lanes, confirms: pool.setup.confirms, startedAt: start)
        var lastIssue = start
        for result in results.sorted(by: { $0.lane < $1.lane }) {
            stats.published += result.published
            stats.failed += result.failed
            if stats.firstError == nil { stats.firstError = result.firstError }
            lastIssue = max(lastIssue, result.lastIssue)
        }
        stats.issueSeconds = rounded(Double(lastIssue - start) / 1e9, places: 3)
        stats.confirmSeconds = rounded(Double(end - start) / 1e9, places: 3)
        stats.achievedRate = rounded(Double(count) / max(Double(lastIssue - start) / 1e9, 1e-9), places: 1)
        stats.confirmedRate = rounded(Double(stats.published) / max(Double(end - start) / 1e9, 1e-9), places: 1)
        return stats
    }

    private struct LaneResult: Sendable {
        var lane: Int
        var published = 0
        var failed = 0
        var firstError: String?
        var lastIssue: UInt64 = 0
    }

    private static func publishLane(lane: Int, lanes: Int, count: Int, start: UInt64, interval: Double,
                                    maxInFlight: Int, userIds: [String], factory: UpdateFactory,
                                    exchange: String, publisher: AMQPPublisher) async -> LaneResult {
        await withTaskGroup(of: String?.self) { group in
            var result = LaneResult(lane: lane, lastIssue: start)
            var inFlight = 0
            for sequence in stride(from: lane, to: count, by: lanes) {
                if interval > 0 {
                    let due = start + UInt64(Double(sequence) * interval)
                    let now = monotonicNanoseconds()
                    // Sleep only when ahead by more than the timer's granularity; a late tick catches up.
                    if due > now + 500_000 { try? await Task.sleep(nanoseconds: due - now) }
                }
                while inFlight >= maxInFlight, let outcome = await group.next() {
                    inFlight -= 1
                    record(outcome, into: &result)
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
                result.lastIssue = monotonicNanoseconds()
                if lane == 0, sequence > 0, sequence % 20_000 < lanes { Progress.say("published about \(sequence)/\(count)") }
            }
            for await outcome in group { record(outcome, into: &result) }
            return result
        }
    }

    private static func record(_ outcome: String?, into result: inout LaneResult) {
        if let outcome {
            result.failed += 1
            if result.firstError == nil { result.firstError = outcome }
        } else {
            result.published += 1
        }
    }
}
