import ChatAMQP
import Logging
import Synchronization

/// Collects what a consumer hands out on its AMQP thread, for tests to await.
final class Collector<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])

    func append(_ item: Element) { items.withLock { $0.append(item) } }

    var all: [Element] { items.withLock { $0 } }

    var count: Int { items.withLock { $0.count } }

    /// Waits until at least `count` items arrived; returns them all (possibly fewer after `timeout`).
    @discardableResult
    func wait(for count: Int, timeout: Duration = .seconds(10)) async -> [Element] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let snapshot = all
            if snapshot.count >= count { return snapshot }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return all
    }

    /// Waits until `count` items satisfy `predicate`.
    func wait(count: Int, matching predicate: (Element) -> Bool, timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if all.filter(predicate).count >= count { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    /// Waits until an item satisfies `predicate`.
    func wait(until predicate: (Element) -> Bool, timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if all.contains(where: predicate) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }
}

/// A consumer wired to collectors, for tests.
struct TestConsumer {
    let consumer: AMQPConsumer
    let deliveries = Collector<AMQPDelivery>()
    let events = Collector<AMQPConsumerEvent>()

    init(url: String = "amqp://guest:guest@127.0.0.1:5672/", options: AMQPConsumer.Options = fastOptions()) throws {
        let deliveries = self.deliveries
        let events = self.events
        consumer = try AMQPConsumer(url: url, options: options, logger: testLogger,
                                    onEvent: { events.append($0) }, onDelivery: { deliveries.append($0) })
    }

    static func fastOptions(name: String = "chatd test consumer", prefetch: UInt16 = 16) -> AMQPConsumer.Options {
        AMQPConsumer.Options(connectionName: name, prefetch: prefetch, heartbeat: .seconds(10),
                             reconnectDelay: .milliseconds(100), maxReconnectDelay: .milliseconds(500))
    }

    /// Starts the consumer and waits until it is connected.
    func start() async throws -> Self {
        consumer.start()
        guard await events.wait(until: { $0 == .stateChanged(.connected) }) else {
            throw TestFailure("consumer did not connect: \(consumer.state)")
        }
        return self
    }

    /// Waits for the `count`-th `.connected` since the consumer started.
    func waitForConnected(count: Int) async -> Bool {
        await events.wait(count: count, matching: { $0 == .stateChanged(.connected) })
    }

    func bodies() -> [String] { deliveries.all.map { String(decoding: $0.body, as: UTF8.self) } }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

let testLogger: Logger = {
    var logger = Logger(label: "chatd.amqp.tests")
    logger.logLevel = .critical
    return logger
}()

extension String {
    var bytes: [UInt8] { Array(utf8) }
}
