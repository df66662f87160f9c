import ArgumentParser
import ChatAMQP
import ChatConfig
import Synchronization

/// `chatbench amqp-ceiling`: what a bare consumer of the update stream reaches on this machine — every
/// delivery acked and nothing else — while N updates are published as fast as the broker takes them.
/// chatd's peak delivery (`fanout --rate 0`) is compared against it.
///
/// Two shapes of the stream:
/// - one queue bound with `#` (the default): the broker's and librabbitmq's ceiling for one stream;
/// - `--per-user-queues`: one queue per user, named, declared and bound exactly as chatd does it
///   (`rabbitmq.queue_template`, `.instance`, `.bindings`, `.queue_expires`, `.prefetch` from chatd's
///   config or its defaults), all consumed on one channel of one connection like chatd's consumer. This
///   is the denominator of "peak ≥ 0.8 × a bare consumer of the same per-user queues": the broker's
///   per-queue routing and delivery cost is in both sides of the ratio, so the ratio is chatd's own.
struct AMQPCeilingBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "amqp-ceiling",
        abstract: "Bare AMQP consumer (one queue bound with #, or chatd's per-user queues) of N updates published as fast as possible.")

    @Option(name: .customLong("amqp-url"), help: "RabbitMQ URL.") var amqpURL: String = "amqp://guest:guest@127.0.0.1:5672/"
    @Option(help: "Topic exchange to publish to and bind.") var exchange: String = "chat3_updates"
    @Option(help: "Updates to publish.") var count: Int = 100_000
    @Option(help: "Distinct user ids in the routing keys (with --per-user-queues: the number of queues).") var users: Int = 2000
    @Option(help: "Unconfirmed publishes allowed at once (in total over all publishers).") var maxInFlight: Int = 2000
    @Option(help: "Consumer prefetch per queue (default: chatd's rabbitmq.prefetch).") var prefetch: UInt16?
    @Option(help: "Seconds to wait for stragglers after the last publish.") var drain: Double = 10
    @Flag(help: "Consume one queue per user, declared and bound as chatd declares them, instead of one queue bound with #.")
    var perUserQueues = false
    @Option(help: "chatd config file to take the queue naming, bindings, x-expires and prefetch from (default: chatd's defaults, or /etc/chatd/chatd.toml if it exists, as chatd reads it).")
    var config: String?
    @Option(help: "Subscriptions in flight at once while declaring the per-user queues.") var subscribeConcurrency: Int = 256
    @OptionGroup var publishing: PublisherOptions

    struct Parameters: Encodable {
        var exchange: String
        var count: Int
        var users: Int
        var maxInFlight: Int
        var prefetch: UInt16
        var mode: String
    }

    /// The queues consumed, as declared.
    struct Queues: Encodable {
        var count: Int
        var nameExample: String
        var bindingsExample: [String]
        var expiresMs: Int?
        /// Seconds to declare, bind and consume all of them (pipelined, `subscribeConcurrency` at once).
        var subscribeSeconds: Double
    }

    struct Output: Encodable {
        var benchmark = "amqp-ceiling"
        var parameters: Parameters
        var queues: Queues
        var publish: PublishStats
        var delivered: Int
        /// Deliveries of an earlier run still queued (acked, not counted).
        var staleDeliveries: Int
        /// Delivered messages per second, from the first publish to the last delivery.
        var deliveredPerSecond: Double
        var latency: LatencySummary
    }

    func validate() throws {
        guard count > 0, users > 0, maxInFlight > 0, prefetch ?? 1 > 0, subscribeConcurrency > 0 else {
            throw ValidationError("values must be positive")
        }
    }

    /// The parts of chatd's config that shape its update queues.
    private struct QueueShape {
        var naming: QueueNaming
        var expiresMs: Int?
        var prefetch: UInt16
    }

    private func queueShape() throws -> QueueShape {
        let loader = ConfigLoader(flags: config.map { ["config": $0] } ?? [:], environment: [:])
        do {
            let naming = try loader.queueNaming()
            let raw = try loader.resolve()
            guard let expires = raw["rabbitmq.queue_expires"].flatMap({ DurationText.seconds($0.value) }),
                  let prefetch = raw["rabbitmq.prefetch"].flatMap({ UInt16($0.value) }) else {
                throw BenchError.badInput("rabbitmq.queue_expires or rabbitmq.prefetch is not readable")
            }
            return QueueShape(naming: naming, expiresMs: expires > 0 ? Int(expires * 1000) : nil, prefetch: prefetch)
        } catch let error as ConfigError {
            throw BenchError.badInput("chatd config: \(error)")
        }
    }

    func run() async throws {
        let logger = benchLogger("chatbench.amqp")
        let shape = try queueShape()
        let prefetch = prefetch ?? shape.prefetch
        let factory = UpdateFactory(tenantId: "tnt_default")
        let counts = LockedCounts()
        let consumerBox = Mutex<AMQPConsumer?>(nil)
        let consumer = try AMQPConsumer(
            url: amqpURL, options: .init(connectionName: "chatbench ceiling", prefetch: prefetch), logger: logger) { delivery in
                let now = monotonicNanoseconds()
                if JSONScan.number(after: "benchRun", in: delivery.body) == UInt64(factory.runId) {
                    counts.record(now: now, sentAt: JSONScan.number(after: "content", in: delivery.body))
                } else {
                    counts.recordStale()
                }
                consumerBox.withLock { $0 }?.ack(delivery.deliveryTag)
            }
        consumerBox.withLock { $0 = consumer }
        consumer.start()
        var declared = false
        for _ in 0..<50 where !declared {
            do {
                try await consumer.declareExchange(exchange)
                declared = true
            } catch {
                try await Task.sleep(for: .milliseconds(100)) // still connecting
            }
        }
        guard declared else { throw BenchError.failed("cannot declare \(exchange) at \(amqpURL)") }

        // Synthetic users (usr_ + 8 of a-z0-9, as chatd's ids), never a real user's queue.
        let userIds = (0..<users).map { "usr_c" + String(String($0, radix: 36).suffix(7)).leftPadded(to: 7) }
        let subscribeStart = monotonicNanoseconds()
        let tags: [ConsumerTag]
        let queues: Queues
        if perUserQueues {
            Progress.say("amqp-ceiling: declaring \(users) per-user queues as chatd does (\(shape.naming.template), bindings \(shape.naming.bindingTemplates.joined(separator: ",")))")
            let arguments = QueueArguments(expiresMs: shape.expiresMs, durable: false, autoDelete: false)
            tags = try await subscribeAll(consumer: consumer, userIds: userIds, arguments: arguments, naming: shape.naming)
            queues = Queues(count: users, nameExample: shape.naming.queueName(for: userIds[0]),
                            bindingsExample: shape.naming.bindingKeys(for: userIds[0]), expiresMs: shape.expiresMs,
                            subscribeSeconds: rounded(Double(monotonicNanoseconds() - subscribeStart) / 1e9, places: 3))
        } else {
            let queue = "chatbench_ceiling_\(UInt32.random(in: 0..<UInt32.max))"
            tags = [try await consumer.subscribe(queue: queue, arguments: QueueArguments(expiresMs: 60_000, autoDelete: true),
                                                 bindings: [AMQPBinding(exchange: exchange, routingKey: "#")])]
            queues = Queues(count: 1, nameExample: queue, bindingsExample: ["#"], expiresMs: 60_000,
                            subscribeSeconds: rounded(Double(monotonicNanoseconds() - subscribeStart) / 1e9, places: 3))
        }
        Progress.say("amqp-ceiling: \(queues.count) queue(s) consumed after \(queues.subscribeSeconds) s")

        let pool = try PublisherPool(url: amqpURL, options: publishing, logger: logger)
        try await pool.declareExchange(exchange)
        Progress.say("amqp-ceiling: publishing \(count) updates as fast as possible over \(publishing.publishers) publisher(s), \(publishing.confirms ? "confirmed" : "unconfirmed")")
        let stats = await UpdateBurst.publish(count: count, rate: 0, maxInFlight: maxInFlight, userIds: userIds,
                                              factory: factory, exchange: exchange, pool: pool)
        let deadline = monotonicNanoseconds() + UInt64(drain * 1e9)
        while counts.snapshot().delivered < stats.published, monotonicNanoseconds() < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        let result = counts.snapshot()
        await pool.close()
        if perUserQueues {
            // The queues are this run's alone: delete them rather than leave them for x-expires.
            await withTaskGroup(of: Void.self) { group in
                for tag in tags { group.addTask { try? await consumer.cancel(tag, deleteQueue: true) } }
            }
        }
        await consumer.stop()
        let span = Double(max(result.lastAt, stats.startedAt) - stats.startedAt) / 1e9
        let output = Output(
            parameters: Parameters(exchange: exchange, count: count, users: users, maxInFlight: maxInFlight, prefetch: prefetch,
                                   mode: perUserQueues ? "per-user-queues" : "one-queue"),
            queues: queues, publish: stats, delivered: result.delivered, staleDeliveries: result.stale,
            deliveredPerSecond: span > 0 ? rounded(Double(result.delivered) / span, places: 1) : 0,
            latency: LatencySummary(nanoseconds: result.latencies))
        Progress.say("amqp-ceiling: delivered \(output.delivered)/\(stats.published) at \(output.deliveredPerSecond)/s (publishers took \(stats.confirmedRate)/s)")
        try ResultPrinter.print(output)
    }

    /// Subscribes every user's queue, `subscribeConcurrency` at a time (the consumer pipelines them as it
    /// does for chatd's connect storms).
    private func subscribeAll(consumer: AMQPConsumer, userIds: [String], arguments: QueueArguments,
                              naming: QueueNaming) async throws -> [ConsumerTag] {
        try await withThrowingTaskGroup(of: ConsumerTag.self) { group in
            var tags: [ConsumerTag] = []
            var next = 0
            func add() {
                let userId = userIds[next]
                next += 1
                group.addTask {
                    try await consumer.subscribe(
                        queue: naming.queueName(for: userId), arguments: arguments,
                        bindings: naming.bindingKeys(for: userId).map { AMQPBinding(exchange: exchange, routingKey: $0) })
                }
            }
            while next < min(subscribeConcurrency, userIds.count) { add() }
            while let tag = try await group.next() {
                tags.append(tag)
                if next < userIds.count { add() }
            }
            return tags
        }
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// Delivery counts shared with the consumer's thread.
final class LockedCounts: Sendable {
    struct Snapshot { var delivered: Int; var stale: Int; var lastAt: UInt64; var latencies: [UInt64] }
    private let state = Mutex(Snapshot(delivered: 0, stale: 0, lastAt: 0, latencies: []))

    func record(now: UInt64, sentAt: UInt64?) {
        state.withLock {
            $0.delivered += 1
            $0.lastAt = now
            if let sentAt { $0.latencies.append(now >= sentAt ? now - sentAt : 0) }
        }
    }

    func recordStale() {
        state.withLock { $0.stale += 1 }
    }

    func snapshot() -> Snapshot { state.withLock { $0 } }
}
