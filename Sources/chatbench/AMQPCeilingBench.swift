import ArgumentParser
import ChatAMQP
import Synchronization

/// `chatbench amqp-ceiling`: what a bare consumer of the update stream reaches on this machine — one
/// queue bound with `#`, every delivery acked and nothing else — while N updates are published as fast
/// as the broker confirms. chatd's peak delivery (`fanout --rate 0`) is compared against it.
struct AMQPCeilingBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "amqp-ceiling",
        abstract: "Bare AMQP consumer (one queue bound with #) of N updates published as fast as possible.")

    @Option(name: .customLong("amqp-url"), help: "RabbitMQ URL.") var amqpURL: String = "amqp://guest:guest@127.0.0.1:5672/"
    @Option(help: "Topic exchange to publish to and bind.") var exchange: String = "chat3_updates"
    @Option(help: "Updates to publish.") var count: Int = 100_000
    @Option(help: "Distinct user ids in the routing keys.") var users: Int = 2000
    @Option(help: "Unconfirmed publishes allowed at once.") var maxInFlight: Int = 2000
    @Option(help: "Consumer prefetch (chatd's consumer uses 64 per queue).") var prefetch: UInt16 = 64
    @Option(help: "Seconds to wait for stragglers after the last publish.") var drain: Double = 10

    struct Parameters: Encodable {
        var exchange: String
        var count: Int
        var users: Int
        var maxInFlight: Int
        var prefetch: UInt16
    }

    struct Output: Encodable {
        var benchmark = "amqp-ceiling"
        var parameters: Parameters
        var publish: PublishStats
        var delivered: Int
        /// Delivered messages per second, from the first publish to the last delivery.
        var deliveredPerSecond: Double
        var latency: LatencySummary
    }

    private struct Counts {
        var delivered = 0
        var lastAt: UInt64 = 0
        var latencies: [UInt64] = []
    }

    func validate() throws {
        guard count > 0, users > 0, maxInFlight > 0, prefetch > 0 else { throw ValidationError("values must be positive") }
    }

    func run() async throws {
        let logger = benchLogger("chatbench.amqp")
        let counts = LockedCounts()
        let consumerBox = Mutex<AMQPConsumer?>(nil)
        let consumer = try AMQPConsumer(
            url: amqpURL, options: .init(connectionName: "chatbench ceiling", prefetch: prefetch), logger: logger) { delivery in
                let now = monotonicNanoseconds()
                let sentAt = JSONScan.number(after: "content", in: delivery.body)
                counts.record(now: now, sentAt: sentAt)
                consumerBox.withLock { $0 }?.ack(delivery.deliveryTag)
            }
        consumerBox.withLock { $0 = consumer }
        consumer.start()
        let queue = "chatbench_ceiling_\(UInt32.random(in: 0..<UInt32.max))"
        var subscribed = false
        for _ in 0..<50 where !subscribed {
            do {
                try await consumer.declareExchange(exchange)
                _ = try await consumer.subscribe(queue: queue, arguments: QueueArguments(expiresMs: 60_000, autoDelete: true),
                                                 bindings: [AMQPBinding(exchange: exchange, routingKey: "#")])
                subscribed = true
            } catch {
                try await Task.sleep(for: .milliseconds(100)) // still connecting
            }
        }
        guard subscribed else { throw BenchError.failed("cannot subscribe to \(exchange) at \(amqpURL)") }

        let publisher = try AMQPPublisher(url: amqpURL, options: .init(connectionName: "chatbench publisher"), logger: logger)
        try await publisher.declareExchange(exchange)
        let userIds = (0..<users).map { "usr_bench\($0)" }
        Progress.say("amqp-ceiling: publishing \(count) updates as fast as possible")
        let stats = await UpdateBurst.publish(count: count, rate: 0, maxInFlight: maxInFlight, userIds: userIds,
                                              factory: UpdateFactory(tenantId: "tnt_default"), exchange: exchange,
                                              publisher: publisher)
        let deadline = monotonicNanoseconds() + UInt64(drain * 1e9)
        while counts.snapshot().delivered < stats.published, monotonicNanoseconds() < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        await publisher.close()
        await consumer.stop()
        let result = counts.snapshot()
        let span = Double(max(result.lastAt, stats.startedAt) - stats.startedAt) / 1e9
        let output = Output(
            parameters: Parameters(exchange: exchange, count: count, users: users, maxInFlight: maxInFlight, prefetch: prefetch),
            publish: stats, delivered: result.delivered,
            deliveredPerSecond: span > 0 ? rounded(Double(result.delivered) / span, places: 1) : 0,
            latency: LatencySummary(nanoseconds: result.latencies))
        Progress.say("amqp-ceiling: delivered \(output.delivered)/\(stats.published) at \(output.deliveredPerSecond)/s")
        try ResultPrinter.print(output)
    }
}

/// Delivery counts shared with the consumer's thread.
final class LockedCounts: Sendable {
    struct Snapshot { var delivered: Int; var lastAt: UInt64; var latencies: [UInt64] }
    private let state = Mutex(Snapshot(delivered: 0, lastAt: 0, latencies: []))

    func record(now: UInt64, sentAt: UInt64?) {
        state.withLock {
            $0.delivered += 1
            $0.lastAt = now
            if let sentAt { $0.latencies.append(now >= sentAt ? now - sentAt : 0) }
        }
    }

    func snapshot() -> Snapshot { state.withLock { $0 } }
}
