import ChatAMQP
import Foundation
import Testing
import TestSupport

@Suite("AMQP publisher")
struct AMQPPublisherTests {
    @Test func publishingToAMissingExchangeIsRefusedAndThePublisherRecovers() async throws {
        try await RabbitMQFixture.with { fixture in
            let publisher = try AMQPPublisher(url: RabbitMQFixture.amqpURL, logger: testLogger)
            let missing = fixture.name("missing")
            await #expect(throws: AMQPError.refused(code: 404, text: "NOT_FOUND - no exchange '\(missing)' in vhost '/'")) {
                try await publisher.publish(exchange: missing, routingKey: "k", body: "{}".bytes)
            }
            let exchange = fixture.name("updates")
            try await publisher.declareExchange(exchange)
            try await publisher.publish(exchange: exchange, routingKey: "k", body: "{}".bytes)
            await publisher.close()
        }
    }

    @Test func redeclaringAnExchangeWithAnotherTypeIsRefusedWithoutBreakingPublishes() async throws {
        try await RabbitMQFixture.with { fixture in
            let publisher = try AMQPPublisher(url: RabbitMQFixture.amqpURL, logger: testLogger)
            let exchange = fixture.name("presence")
            try await publisher.declareExchange(exchange, type: "fanout", durable: false)
            await #expect(throws: AMQPError.self) { try await publisher.declareExchange(exchange, type: "topic") }
            try await publisher.publish(exchange: exchange, routingKey: "", body: "{}".bytes)
            await publisher.close()
        }
    }

    @Test func anUnreachableBrokerFailsThePublishAsUnavailable() async throws {
        let publisher = try AMQPPublisher(url: "amqp://guest:guest@127.0.0.1:1/", logger: testLogger)
        await #expect {
            try await publisher.publish(exchange: "x", routingKey: "k", body: [])
        } throws: { error in
            guard case AMQPError.unavailable = error else { return false }
            return true
        }
        await publisher.close()
    }

    @Test func wrongCredentialsFailAsUnavailable() async throws {
        let publisher = try AMQPPublisher(url: "amqp://guest:wrong@127.0.0.1:5672/", logger: testLogger)
        await #expect {
            try await publisher.declareExchange("x")
        } throws: { error in
            guard case AMQPError.unavailable = error else { return false }
            return true
        }
        await publisher.close()
    }

    @Test func aClosedPublisherRefusesFurtherPublishes() async throws {
        let publisher = try AMQPPublisher(url: RabbitMQFixture.amqpURL, logger: testLogger)
        await publisher.close()
        await #expect(throws: AMQPError.closed) {
            try await publisher.publish(exchange: "x", routingKey: "k", body: [])
        }
    }

    @Test func thePublisherReconnectsOnTheNextPublishAfterLosingTheBroker() async throws {
        try await RabbitMQFixture.with { fixture in
            let proxy = try BrokerProxy()
            let publisher = try AMQPPublisher(url: proxy.amqpURL, logger: testLogger)
            let exchange = fixture.name("updates")
            try await publisher.declareExchange(exchange)
            try await publisher.publish(exchange: exchange, routingKey: "a", body: "1".bytes)

            proxy.cut()
            await #expect(throws: AMQPError.self) {
                try await publisher.publish(exchange: exchange, routingKey: "a", body: "2".bytes)
            }
            try proxy.restore()
            try await publisher.publish(exchange: exchange, routingKey: "a", body: "3".bytes)
            await publisher.close()
        }
    }

    @Test func concurrentPublishesAreAllConfirmedAndDelivered() async throws {
        try await RabbitMQFixture.with { fixture in
            let exchange = fixture.name("updates")
            let publisher = try AMQPPublisher(url: RabbitMQFixture.amqpURL, logger: testLogger)
            try await publisher.declareExchange(exchange, durable: false)
            let consumer = try await TestConsumer(options: TestConsumer.fastOptions(prefetch: 0)).start() // unlimited
            _ = try await consumer.consumer.subscribe(queue: fixture.name("bulk"), bindings: [(exchange, "bulk.#")])

            let total = 4000
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        for index in stride(from: worker, to: total, by: 8) {
                            try await publisher.publish(exchange: exchange, routingKey: "bulk.\(index)",
                                                        body: #"{"n":\#(index)}"#.bytes, persistent: false)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let elapsed = ContinuousClock.now - started
            let received = await consumer.deliveries.wait(for: total, timeout: .seconds(30))
            for delivery in received { consumer.consumer.ack(delivery.deliveryTag) }
            #expect(received.count == total)
            #expect(Set(received.map(\.routingKey)).count == total)
            print("published \(total) confirmed messages in \(elapsed)")
            await consumer.consumer.stop()
            await publisher.close()
        }
    }
}
