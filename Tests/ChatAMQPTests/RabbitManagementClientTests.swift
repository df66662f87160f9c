import ChatAMQP
import Foundation
import Testing
import TestSupport

@Suite("RabbitMQ management client")
struct RabbitManagementClientTests {
    let management: RabbitManagementClient

    init() throws {
        management = try RabbitManagementClient(url: RabbitMQFixture.managementURL, timeout: .seconds(30))
    }

    /// Declares `queue` bound to a fresh exchange and publishes `bodies` into it.
    private func fill(_ fixture: RabbitMQFixture, queue: String, bodies: [String]) async throws {
        let exchange = fixture.name("updates")
        let consumer = try await TestConsumer().start()
        let tag = try await consumer.consumer.subscribe(queue: queue, arguments: QueueArguments(expiresMs: 60_000),
                                                        bindings: [])
        try await consumer.consumer.cancel(tag)
        try await consumer.consumer.declareExchange(exchange, durable: false)
        _ = try await consumer.consumer.subscribe(queue: queue, arguments: QueueArguments(expiresMs: 60_000),
                                                  bindings: [(exchange, "user.#")])
        await consumer.consumer.stop() // the queue stays; messages pile up
        let publisher = try AMQPPublisher(url: RabbitMQFixture.amqpURL, logger: testLogger)
        for body in bodies {
            try await publisher.publish(exchange: exchange, routingKey: "user.erin.update", body: body.bytes,
                                        headers: ["userId": "erin"])
        }
        await publisher.close()
    }

    @Test func listingFiltersByPrefixAndShowsDepthAndConsumers() async throws {
        try await RabbitMQFixture.with { fixture in
            try await fill(fixture, queue: fixture.name("a_updates"), bodies: ["1", "2", "3"])
            try await fill(fixture, queue: fixture.name("b_updates"), bodies: [])
            // Counters come from statistics the broker refreshes every few seconds.
            var queues: [RabbitQueue] = []
            let deadline = ContinuousClock.now + .seconds(15)
            repeat {
                queues = try await management.listQueues(prefix: fixture.prefix)
                if queues.first?.messagesReady == 3 && queues.first?.consumers == 0 { break }
                try await Task.sleep(for: .milliseconds(250))
            } while ContinuousClock.now < deadline
            #expect(queues.map(\.name) == [fixture.name("a_updates"), fixture.name("b_updates")])
            #expect(queues.first?.messagesReady == 3)
            #expect(queues.first?.messagesUnacknowledged == 0)
            #expect(queues.first?.consumers == 0)
            #expect(queues.first?.arguments["x-expires"] == 60_000)
            #expect(try await management.listQueues(prefix: fixture.name("zzz")).isEmpty)
        }
    }

    @Test func showingAQueueIncludesItsBindings() async throws {
        try await RabbitMQFixture.with { fixture in
            let queue = fixture.name("shown")
            try await fill(fixture, queue: queue, bodies: [])
            let details = try await management.queue(queue)
            #expect(details.queue.name == queue)
            #expect(details.bindings == [RabbitBinding(source: fixture.name("updates"), routingKey: "user.#")])
        }
    }

    @Test func peekingShowsMessagesWithoutConsumingThem() async throws {
        try await RabbitMQFixture.with { fixture in
            let queue = fixture.name("peeked")
            try await fill(fixture, queue: queue, bodies: [#"{"n":1}"#, #"{"n":2}"#, #"{"n":3}"#])
            let first = try await management.peek(queue: queue, count: 2)
            #expect(first.map { String(decoding: $0.payload, as: UTF8.self) } == [#"{"n":1}"#, #"{"n":2}"#])
            #expect(first.first?.routingKey == "user.erin.update")
            #expect(first.first?.exchange == fixture.name("updates"))
            #expect(first.first?.headers == ["userId": "erin"])

            // Still all there, in order: peek again, then consume them.
            let again = try await management.peek(queue: queue, count: 10)
            #expect(again.map { String(decoding: $0.payload, as: UTF8.self) } == [#"{"n":1}"#, #"{"n":2}"#, #"{"n":3}"#])
            let consumer = try await TestConsumer().start()
            _ = try await consumer.consumer.subscribe(queue: queue, arguments: QueueArguments(expiresMs: 60_000),
                                                      bindings: [])
            await consumer.deliveries.wait(for: 3)
            try await Task.sleep(for: .milliseconds(200))
            #expect(consumer.bodies() == [#"{"n":1}"#, #"{"n":2}"#, #"{"n":3}"#])
            await consumer.consumer.stop()
        }
    }

    @Test func purgingDropsEveryReadyMessage() async throws {
        try await RabbitMQFixture.with { fixture in
            let queue = fixture.name("purged")
            try await fill(fixture, queue: queue, bodies: ["1", "2"])
            #expect(try await management.peek(queue: queue, count: 5).count == 2)
            try await management.purge(queue: queue)
            #expect(try await management.peek(queue: queue, count: 5).isEmpty)
        }
    }

    @Test func anUnknownQueueIsNotFound() async throws {
        try await RabbitMQFixture.with { fixture in
            await #expect(throws: RabbitManagementError.notFound) {
                try await management.queue(fixture.name("nope"))
            }
            await #expect(throws: RabbitManagementError.notFound) {
                try await management.purge(queue: fixture.name("nope"))
            }
            await #expect(throws: RabbitManagementError.notFound) {
                try await management.listQueues(vhost: fixture.name("no-such-vhost"))
            }
        }
    }

    @Test func wrongCredentialsAreUnauthorized() async throws {
        let client = try RabbitManagementClient(url: "http://guest:wrong@127.0.0.1:15672")
        await #expect(throws: RabbitManagementError.unauthorized) { try await client.listQueues() }
    }

    @Test func nothingListeningIsUnreachable() async throws {
        let client = try RabbitManagementClient(url: "http://guest:guest@127.0.0.1:1")
        await #expect {
            try await client.listQueues()
        } throws: { error in
            guard case RabbitManagementError.unreachable = error else { return false }
            return true
        }
    }

    @Test(arguments: ["127.0.0.1:15672", "amqp://guest:guest@127.0.0.1:5672", "http://"])
    func aManagementURLThatIsNotHTTPIsRefused(url: String) {
        #expect(throws: RabbitManagementError.invalidURL(url)) { try RabbitManagementClient(url: url) }
    }
}
