/// Identifies one subscription. Chosen by the consumer and kept across reconnects, so it stays valid
/// for the subscription's whole life.
public struct ConsumerTag: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
}

/// Identifies one delivery for `ack` / `reject`. Only valid on the connection that delivered it: after
/// a reconnect the broker has already requeued the message, and a stale tag is ignored.
public struct DeliveryTag: Sendable, Hashable, CustomStringConvertible {
    /// Which connection (counted from 1 per consumer) delivered the message.
    public let connection: UInt64
    /// The channel it came on: delivery tags are per channel, and it is acked there.
    public let channel: UInt16
    /// The broker's delivery tag on that channel.
    public let value: UInt64
    public var description: String { "\(connection).\(channel).\(value)" }
}

/// One message handed to the delivery handler.
public struct AMQPDelivery: Sendable {
    public var consumerTag: ConsumerTag
    public var deliveryTag: DeliveryTag
    public var exchange: String
    public var routingKey: String
    public var body: [UInt8]
    public var redelivered: Bool
}

/// A queue-to-exchange binding.
public struct AMQPBinding: Sendable, Hashable {
    public var exchange: String
    public var routingKey: String
    public init(exchange: String, routingKey: String) {
        self.exchange = exchange
        self.routingKey = routingKey
    }
}

/// How a subscription's queue is declared.
public struct QueueArguments: Sendable, Hashable {
    /// `x-expires`: the broker deletes the queue this long after its last consumer went away, so a
    /// short disconnect keeps buffered messages. Nil: never expires.
    public var expiresMs: Int?
    /// `x-message-ttl`: messages older than this are dropped. Nil: no limit.
    public var messageTTLMs: Int?
    /// Survives a broker restart (with persistent messages).
    public var durable: Bool
    /// Deleted by the broker when its last consumer is cancelled (the old delete-on-disconnect).
    public var autoDelete: Bool

    public init(expiresMs: Int? = nil, messageTTLMs: Int? = nil, durable: Bool = false, autoDelete: Bool = false) {
        self.expiresMs = expiresMs
        self.messageTTLMs = messageTTLMs
        self.durable = durable
        self.autoDelete = autoDelete
    }
}

/// The consumer's connection to the broker.
public enum AMQPConnectionState: Sendable, Hashable {
    /// `start()` not called yet.
    case idle
    /// Connected, channel open, every active subscription consuming.
    case connected
    /// Not connected; reconnecting with backoff. `reason` is for logs and status output.
    case disconnected(reason: String)
    /// `stop()` was called.
    case stopped
}

/// What the consumer reports to its observer.
public enum AMQPConsumerEvent: Sendable, Hashable {
    case stateChanged(AMQPConnectionState)
    /// A subscription ended without `cancel`: the broker cancelled it (its queue was deleted) or it
    /// could not be re-established after a reconnect. It will not be retried.
    case subscriptionLost(ConsumerTag, reason: String)
}
