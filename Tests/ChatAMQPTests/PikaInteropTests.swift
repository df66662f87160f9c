import ChatAMQP
import Foundation
import Testing
import TestSupport

/// chat3 publishes with amqplib; pika stands in for "another AMQP client" in both directions.
@Suite("pika interoperability")
struct PikaInteropTests {
    @Test func messagesPublishedByPikaReachTheSwiftConsumer() async throws {
        try await RabbitMQFixture.with { fixture in
            let exchange = fixture.name("chat3_updates")
            let consumer = try await TestConsumer().start()
            try await consumer.consumer.declareExchange(exchange)
            _ = try await consumer.consumer.subscribe(queue: fixture.name("user_frank_updates"),
                                                      arguments: QueueArguments(expiresMs: 60_000),
                                                      bindings: [(exchange, "update.*.*.frank.*")])
            let script = """
                import sys, pika
                connection = pika.BlockingConnection(pika.URLParameters("\(RabbitMQFixture.amqpURL)"))
                channel = connection.channel()
                channel.exchange_declare(exchange=sys.argv[1], exchange_type="topic", durable=True)
                for i in range(3):
                    channel.basic_publish(exchange=sys.argv[1], routing_key="update.dialog.user.frank.message",
                                          body=('{"tenantId":"tnt_default","n":%d}' % i).encode(),
                                          properties=pika.BasicProperties(content_type="application/json",
                                                                          delivery_mode=2))
                connection.close()
                """
            _ = try await RabbitMQFixture.runPython(script, arguments: [exchange])
            await consumer.deliveries.wait(for: 3)
            #expect(consumer.bodies() == (0..<3).map { #"{"tenantId":"tnt_default","n":\#($0)}"# })
            #expect(consumer.deliveries.all.allSatisfy { $0.routingKey == "update.dialog.user.frank.message" })
            for delivery in consumer.deliveries.all { consumer.consumer.ack(delivery.deliveryTag) }
            await consumer.consumer.stop()
        }
    }

    @Test func pikaReadsWhatTheSwiftPublisherSentWithItsProperties() async throws {
        try await RabbitMQFixture.with { fixture in
            let exchange = fixture.name("chat3_updates")
            let queue = fixture.name("pika_reads")
            let consumer = try await TestConsumer().start()
            try await consumer.consumer.declareExchange(exchange)
            let tag = try await consumer.consumer.subscribe(queue: queue, arguments: QueueArguments(expiresMs: 60_000),
                                                            bindings: [(exchange, "update.#")])
            try await consumer.consumer.cancel(tag)
            await consumer.consumer.stop()

            let publisher = try AMQPPublisher(url: RabbitMQFixture.amqpURL, logger: testLogger)
            try await publisher.publish(exchange: exchange, routingKey: "update.user.user.gina.user",
                                        body: #"{"userId":"gina"}"#.bytes,
                                        headers: ["userId": "gina", "updateType": "update.user"])
            await publisher.close()

            let script = """
                import sys, json, time, pika
                connection = pika.BlockingConnection(pika.URLParameters("\(RabbitMQFixture.amqpURL)"))
                channel = connection.channel()
                method, properties, body = channel.basic_get(queue=sys.argv[1], auto_ack=True)
                print(json.dumps({"key": method.routing_key, "body": body.decode(),
                                  "contentType": properties.content_type, "deliveryMode": properties.delivery_mode,
                                  "age": abs(time.time() - properties.timestamp),
                                  "headers": {k: (v.decode() if isinstance(v, bytes) else v)
                                              for k, v in properties.headers.items()}}))
                connection.close()
                """
            let output = try await RabbitMQFixture.runPython(script, arguments: [queue])
            let seen = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
            #expect(seen["key"] as? String == "update.user.user.gina.user")
            #expect(seen["body"] as? String == #"{"userId":"gina"}"#)
            #expect(seen["contentType"] as? String == "application/json")
            #expect(seen["deliveryMode"] as? Int == 2)
            #expect((seen["age"] as? Double ?? 99) < 10)
            #expect(seen["headers"] as? [String: String] == ["userId": "gina", "updateType": "update.user"])
        }
    }
}
