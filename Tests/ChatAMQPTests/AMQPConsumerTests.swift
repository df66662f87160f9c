import ChatAMQP
import Foundation
import Testing
import TestSupport

@Suite("AMQP consumer")
struct AMQPConsumerTests {
    /// A publisher, a started consumer and a declared exchange under the fixture's prefix.
    struct Setup {
        let publisher: AMQPPublisher
        let consumer: TestConsumer
        let exchange: String

        init(_ fixture: RabbitMQFixture, options: AMQPConsumer.Options = TestConsumer.fastOptions(),
             consumerURL: String = RabbitMQFixture.amqpURL) async throws {
            publisher = try AMQPPublisher(url: RabbitMQFixture.amqpURL, logger: testLogger)
            exchange = fixture.name("updates")
            try await publisher.declareExchange(exchange, durable: false)
            consumer = try await TestConsumer(url: consumerURL, options: options).start()
        }

        func publish(_ body: String, key: String) async throws {
            try await publisher.publish(exchange: exchange, routingKey: key, body: body.bytes)
        }

        func close() async {
            await consumer.consumer.stop()
            await publisher.close()
        }
    }

    @Test func aPublishedMessageIsConsumedWithItsRoutingKeyAndAckedOnce() async throws {
        try await RabbitMQFixture.with { fixture in
            let setup = try await Setup(fixture)
            let queue = fixture.name("user_alice_updates")
            let tag = try await setup.consumer.consumer.subscribe(
                queue: queue, arguments: QueueArguments(expiresMs: 60_000),
                bindings: [(setup.exchange, "user.alice.*"), (setup.exchange, "update.*.*.alice.*")])
            try await setup.publish(#"{"n":1}"#, key: "update.dialog.user.alice.message")
            try await setup.publish(#"{"n":2}"#, key: "user.bob.dialogupdate") // not bound

            let received = await setup.consumer.deliveries.wait(for: 1)
            let delivery = try #require(received.first)
            #expect(delivery.consumerTag == tag)
            #expect(delivery.routingKey == "update.dialog.user.alice.message")
            #expect(delivery.exchange == setup.exchange)
            #expect(String(decoding: delivery.body, as: UTF8.self) == #"{"n":1}"#)
            #expect(!delivery.redelivered)
            setup.consumer.consumer.ack(delivery.deliveryTag)

            // After the ack and a reconnect-free restart, nothing comes back.
            try await setup.consumer.consumer.cancel(tag)
            let second = try await TestConsumer().start()
            _ = try await second.consumer.subscribe(queue: queue, arguments: QueueArguments(expiresMs: 60_000),
                                                    bindings: [(setup.exchange, "user.alice.*")])
            try await setup.publish("marker", key: "user.alice.userupdate")
            let afterAck = await second.deliveries.wait(for: 1)
            #expect(afterAck.map { String(decoding: $0.body, as: UTF8.self) } == ["marker"])
            await second.consumer.stop()
            await setup.close()
        }
    }

    @Test func aRejectedMessageIsDroppedNotRedelivered() async throws {
        try await RabbitMQFixture.with { fixture in
            let setup = try await Setup(fixture)
            _ = try await setup.consumer.consumer.subscribe(queue: fixture.name("q"), bindings: [(setup.exchange, "k")])
            try await setup.publish("malformed", key: "k")
            let first = try #require(await setup.consumer.deliveries.wait(for: 1).first)
            setup.consumer.consumer.reject(first.deliveryTag, requeue: false)
            try await setup.publish("next", key: "k")
            let all = await setup.consumer.deliveries.wait(for: 2)
            try await Task.sleep(for: .milliseconds(200))
            #expect(setup.consumer.bodies() == ["malformed", "next"])
            #expect(all.allSatisfy { !$0.redelivered })
            await setup.close()
        }
    }

    @Test func aRequeuedRejectionComesBackMarkedRedelivered() async throws {
        try await RabbitMQFixture.with { fixture in
            let setup = try await Setup(fixture)
            _ = try await setup.consumer.consumer.subscribe(queue: fixture.name("q"), bindings: [(setup.exchange, "k")])
            try await setup.publish("again", key: "k")
            let first = try #require(await setup.consumer.deliveries.wait(for: 1).first)
            setup.consumer.consumer.reject(first.deliveryTag, requeue: true)
            let all = await setup.consumer.deliveries.wait(for: 2)
            #expect(all.count == 2)
            #expect(all.last?.redelivered == true)
            await setup.close()
        }
    }

    @Test func anExpiringQueueOutlivesCancelAndHandsOverWhatArrivedMeanwhile() async throws {
        try await RabbitMQFixture.with { fixture in
            let setup = try await Setup(fixture)
            let queue = fixture.name("user_bob_updates")
            let arguments = QueueArguments(expiresMs: 60_000)
            let tag = try await setup.consumer.consumer.subscribe(queue: queue, arguments: arguments,
                                                                  bindings: [(setup.exchange, "user.bob.*")])
            try await setup.consumer.consumer.cancel(tag)
            try await setup.publish("while-away-1", key: "user.bob.messageupdate")
            try await setup.publish("while-away-2", key: "user.bob.dialogupdate")

            let management = try RabbitManagementClient(url: RabbitMQFixture.managementURL, timeout: .seconds(30))
            let details = try await management.queue(queue)
            #expect(details.queue.arguments["x-expires"] == 60_000)
            #expect(details.bindings.map(\.routingKey) == ["user.bob.*"])

            let newTag = try await setup.consumer.consumer.subscribe(queue: queue, arguments: arguments,
                                                                     bindings: [(setup.exchange, "user.bob.*")])
            #expect(newTag != tag)
            await setup.consumer.deliveries.wait(for: 2)
            #expect(setup.consumer.bodies() == ["while-away-1", "while-away-2"])
            #expect(setup.consumer.deliveries.all.allSatisfy { $0.consumerTag == newTag })
            await setup.close()
        }
    }

    @Test func cancellingWithDeleteQueueRemovesTheQueue() async throws {
        try await RabbitMQFixture.with { fixture in
            let setup = try await Setup(fixture)
            let queue = fixture.name("seed_style")
            let tag = try await setup.consumer.consumer.subscribe(queue: queue, bindings: [(setup.exchange, "k")])
            try await setup.consumer.consumer.cancel(tag, deleteQueue: true)
            let management = try RabbitManagementClient(url: RabbitMQFixture.managementURL, timeout: .seconds(30))
            await #expect(throws: RabbitManagementError.notFound) { try await management.queue(queue) }
            await setup.close()
        }
    }

    @Test func prefetchLimitsUnacknowledgedDeliveries() async throws {
        try await RabbitMQFixture.with { fixture in
            let setup = try await Setup(fixture, options: TestConsumer.fastOptions(prefetch: 3))
            _ = try await setup.consumer.consumer.subscribe(queue: fixture.name("q"), bindings: [(setup.exchange, "k")])
            for index in 1...10 { try await setup.publish("m\(index)", key: "k") }

            let firstBatch = await setup.consumer.deliveries.wait(for: 3)
            try await Task.sleep(for: .milliseconds(400))
            #expect(setup.consumer.deliveries.count == 3)

            setup.consumer.consumer.ack(firstBatch[0].deliveryTag)
            await setup.consumer.deliveries.wait(for: 4)
            try await Task.sleep(for: .milliseconds(300))
            #expect(setup.consumer.bodies() == ["m1", "m2", "m3", "m4"])
            await setup.close()
        }
    }

    @Test func subscriptionsAreSpreadOverTheConsumeChannelsAndAcksOutOfOrderSettleOnEach() async throws {
        try await RabbitMQFixture.with { fixture in
            var options = TestConsumer.fastOptions()
            options.consumeChannels = 3
            options.connectionName = fixture.name("spread")
            let setup = try await Setup(fixture, options: options)
            for index in 0..<6 {
                _ = try await setup.consumer.consumer.subscribe(queue: fixture.name("q\(index)"),
                                                                bindings: [(setup.exchange, "k\(index)")])
            }
            for index in 0..<6 { try await setup.publish("m\(index)", key: "k\(index)") }
            let received = await setup.consumer.deliveries.wait(for: 6)
            // Two consumers on each of three channels, each channel counting its own delivery tags.
            #expect(Set(received.map(\.deliveryTag.channel)).count == 3)
            #expect(received.allSatisfy { $0.deliveryTag.value <= 2 })
            // Acked newest first, each on the channel it came on: a wrong channel would close it and
            // the broker would hand everything out again.
            for delivery in received.reversed() { setup.consumer.consumer.ack(delivery.deliveryTag) }
            try await Task.sleep(for: .milliseconds(500))
            #expect(setup.consumer.deliveries.count == 6, "nothing was redelivered")
            // Stopping sends what was acked, then closes: anything not acked would go back to its queue.
            await setup.close()
            let second = try await TestConsumer().start()
            for index in 0..<6 {
                _ = try await second.consumer.subscribe(queue: fixture.name("q\(index)"), bindings: [(setup.exchange, "k\(index)")])
            }
            let publisher = try AMQPPublisher(url: RabbitMQFixture.amqpURL, logger: testLogger)
            try await publisher.publish(exchange: setup.exchange, routingKey: "k0", body: "marker".bytes)
            let after = await second.deliveries.wait(for: 1)
            try await Task.sleep(for: .milliseconds(300))
            #expect(after.map { String(decoding: $0.body, as: UTF8.self) } == ["marker"])
            #expect(second.deliveries.count == 1, "an ack did not reach the broker")
            await publisher.close()
            await second.consumer.stop()
        }
    }

    @Test func aQueueThatExistsWithOtherArgumentsIsUsedAsItIs() async throws {
        try await RabbitMQFixture.with { fixture in
            let setup = try await Setup(fixture)
            let queue = fixture.name("legacy")
            let first = try await setup.consumer.consumer.subscribe(
                queue: queue, arguments: QueueArguments(messageTTLMs: 3_600_000), bindings: [(setup.exchange, "k")])
            try await setup.consumer.consumer.cancel(first)
            _ = try await setup.consumer.consumer.subscribe(
                queue: queue, arguments: QueueArguments(expiresMs: 60_000), bindings: [(setup.exchange, "k")])
            try await setup.publish("still works", key: "k")
            await setup.consumer.deliveries.wait(for: 1)
            #expect(setup.consumer.bodies() == ["still works"])
            #expect(setup.consumer.consumer.state == .connected)
            await setup.close()
        }
    }

    @Test func aRefusedBindingFailsItsOwnSubscribeOnlyAndTheNextOneWorks() async throws {
        try await RabbitMQFixture.with { fixture in
            let setup = try await Setup(fixture)
            // The first binding is pipelined and refused (no such exchange); the error must surface on
            // this subscribe, not on the next one.
            await #expect(throws: AMQPError.self) {
                _ = try await setup.consumer.consumer.subscribe(
                    queue: fixture.name("orphan"),
                    bindings: [(fixture.name("missing"), "k"), (setup.exchange, "k")])
            }
            _ = try await setup.consumer.consumer.subscribe(queue: fixture.name("fine"), bindings: [(setup.exchange, "ok.*"),
                                                                                                      (setup.exchange, "also.*")])
            try await setup.publish("first", key: "ok.1")
            try await setup.publish("second", key: "also.1")
            await setup.consumer.deliveries.wait(for: 2)
            #expect(setup.consumer.bodies() == ["first", "second"])
            #expect(setup.consumer.consumer.state == .connected)
            await setup.close()
        }
    }

    /// Subscribes that arrive together are established in batches, one round trip each; a refusal
    /// inside a batch must fail that subscribe alone, and a queue with other arguments inside one is
    /// still used as it is.
    @Test func concurrentSubscribesFailOnlyWhereRefusedAndAllOthersConsume() async throws {
        try await RabbitMQFixture.with { fixture in
            let setup = try await Setup(fixture)
            let consumer = setup.consumer.consumer
            let count = 200
            let refused: Set<Int> = [50, 120]
            let legacy = 170
            // The legacy queue exists with a message TTL; the batch declares it with x-expires only.
            let first = try await consumer.subscribe(queue: fixture.name("batch_\(legacy)"),
                                                     arguments: QueueArguments(messageTTLMs: 3_600_000),
                                                     bindings: [(setup.exchange, "batch.\(legacy)")])
            try await consumer.cancel(first)
            let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
                for index in 0..<count {
                    group.addTask {
                        let exchange = refused.contains(index) ? fixture.name("missing") : setup.exchange
                        do {
                            _ = try await consumer.subscribe(
                                queue: fixture.name("batch_\(index)"), arguments: QueueArguments(expiresMs: 60_000),
                                bindings: [(exchange, "batch.\(index)"), (setup.exchange, "batch.\(index).also")])
                            return (index, true)
                        } catch {
                            return (index, false)
                        }
                    }
                }
                var outcomes: [Int: Bool] = [:]
                for await (index, subscribed) in group { outcomes[index] = subscribed }
                return outcomes
            }
            #expect(Set(outcomes.filter { !$0.value }.keys) == refused)
            #expect(consumer.state == .connected)
            for index in 0..<count where !refused.contains(index) {
                try await setup.publish("update \(index)", key: index.isMultiple(of: 2) ? "batch.\(index)" : "batch.\(index).also")
            }
            let expected = Set((0..<count).filter { !refused.contains($0) }.map { "update \($0)" })
            await setup.consumer.deliveries.wait(for: expected.count, timeout: .seconds(30))
            #expect(Set(setup.consumer.bodies()) == expected)
            #expect(setup.consumer.bodies().count == expected.count)
            await setup.close()
        }
    }

    @Test func deletingAQueueUnderAConsumerReportsTheSubscriptionLost() async throws {
        try await RabbitMQFixture.with { fixture in
            let setup = try await Setup(fixture)
            let queue = fixture.name("doomed")
            let tag = try await setup.consumer.consumer.subscribe(queue: queue, bindings: [(setup.exchange, "k")])
            await fixture.cleanUp()
            #expect(await setup.consumer.events.wait(until: {
                if case .subscriptionLost(tag, _) = $0 { return true }
                return false
            }))
            #expect(setup.consumer.consumer.state == .connected)
            await setup.close()
        }
    }

    @Test func theConsumerReconnectsAndResubscribesWhenTheBrokerClosesItsConnection() async throws {
        try await RabbitMQFixture.with { fixture in
            let name = "chatd test \(fixture.prefix)"
            let setup = try await Setup(fixture, options: TestConsumer.fastOptions(name: name))
            let tag = try await setup.consumer.consumer.subscribe(
                queue: fixture.name("user_carl_updates"), arguments: QueueArguments(expiresMs: 60_000),
                bindings: [(setup.exchange, "user.carl.*")])
            try await setup.publish("before", key: "user.carl.x")
            await setup.consumer.deliveries.wait(for: 1)

            // What a broker shutdown sends every client: connection.close 320 CONNECTION_FORCED.
            #expect(try await fixture.closeConnections(named: name) == 1)
            #expect(await setup.consumer.events.wait(until: {
                if case .stateChanged(.disconnected) = $0 { return true }
                return false
            }))
            #expect(await setup.consumer.waitForConnected(count: 2))

            try await setup.publish("after", key: "user.carl.x")
            // "before" was never acked, so the broker redelivers it on the new connection.
            let received = await setup.consumer.deliveries.wait(for: 3)
            #expect(received.map { String(decoding: $0.body, as: UTF8.self) } == ["before", "before", "after"])
            #expect(received.allSatisfy { $0.consumerTag == tag })
            #expect(received[1].redelivered)
            // A tag from the first connection is stale and ignored; acking the new ones works.
            setup.consumer.consumer.ack(received[0].deliveryTag)
            setup.consumer.consumer.ack(received[1].deliveryTag)
            setup.consumer.consumer.ack(received[2].deliveryTag)
            try await setup.publish("last", key: "user.carl.x")
            await setup.consumer.deliveries.wait(for: 4)
            #expect(setup.consumer.bodies().last == "last")
            #expect(setup.consumer.consumer.state == .connected)
            await setup.close()
        }
    }

    @Test func theConsumerRidesOutABrokerOutageAndGetsWhatWasPublishedDuringIt() async throws {
        try await RabbitMQFixture.with { fixture in
            let proxy = try BrokerProxy()
            let setup = try await Setup(fixture, consumerURL: proxy.amqpURL)
            let queue = fixture.name("user_dana_updates")
            _ = try await setup.consumer.consumer.subscribe(queue: queue, arguments: QueueArguments(expiresMs: 60_000),
                                                            bindings: [(setup.exchange, "user.dana.*")])
            proxy.cut()
            #expect(await setup.consumer.events.wait(until: {
                if case .stateChanged(.disconnected) = $0 { return true }
                return false
            }))
            await #expect(throws: AMQPError.notConnected) {
                _ = try await setup.consumer.consumer.subscribe(queue: fixture.name("other"), bindings: [])
            }
            try await setup.publish("during", key: "user.dana.x")
            try await Task.sleep(for: .milliseconds(600)) // a few refused reconnect attempts

            try proxy.restore()
            #expect(await setup.consumer.waitForConnected(count: 2))
            try await setup.publish("after", key: "user.dana.x")
            await setup.consumer.deliveries.wait(for: 2)
            #expect(setup.consumer.bodies() == ["during", "after"])
            await setup.close()
        }
    }

    @Test func aConsumerWithoutBrokerReportsDisconnectedAndKeepsTrying() async throws {
        let consumer = try TestConsumer(url: "amqp://guest:guest@127.0.0.1:1/")
        consumer.consumer.start()
        let disconnects = await consumer.events.wait(for: 1, timeout: .seconds(5))
        #expect(disconnects.count == 1)
        #expect(disconnects.allSatisfy {
            if case .stateChanged(.disconnected) = $0 { return true }
            return false
        })
        await #expect(throws: AMQPError.notConnected) {
            _ = try await consumer.consumer.subscribe(queue: "q", bindings: [])
        }
        await consumer.consumer.stop()
        #expect(consumer.consumer.state == .stopped)
        await #expect(throws: AMQPError.closed) {
            _ = try await consumer.consumer.subscribe(queue: "q", bindings: [])
        }
    }
}
