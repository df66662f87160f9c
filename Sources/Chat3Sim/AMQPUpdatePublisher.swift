import ChatAMQP
import Logging

/// Publishes Updates to RabbitMQ through ChatAMQP: persistent, JSON, headers as Chat3 sets them.
public final class AMQPUpdatePublisher: UpdatePublishing {
    private let publisher: AMQPPublisher

    /// Fails only on a malformed URL; connecting happens on first use and is retried by the publisher.
    public init(url: String, logger: Logger) throws {
        self.publisher = try AMQPPublisher(url: url, logger: logger)
    }

    public func prepare(exchange: String) async throws {
        try await publisher.declareExchange(exchange, type: "topic", durable: true)
    }

    public func publish(_ update: PublishedUpdate) async throws {
        try await publisher.publish(exchange: update.exchange, routingKey: update.routingKey, body: update.body,
                                    headers: update.headers, persistent: true)
    }

    public func close() async { await publisher.close() }
}
