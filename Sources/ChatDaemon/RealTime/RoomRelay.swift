import ChatAMQP
import ChatConfig
import ChatCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// What the hub needs to tell the other instances about a room emit.
public protocol RoomRelaying: Sendable {
    /// Hands `event` for `room` to the other instances; returns at once.
    func relay(_ event: String, _ arguments: [JSONValue], toRoom room: String)
    /// Tells the other instances that a user came online here or left; returns at once.
    func relayPresence(_ notice: PresenceNotice)
}

/// Carries room emits (typing) between chatd instances over chatd's own fanout exchange
/// (`rabbitmq.events_exchange`), so a dialog's watchers see them whichever instance they are on
/// (SPEC §5, §11); presence notices, so a user's co-members hear of it on every instance; and kicks, so a user disabled through one instance's control socket loses its
/// sockets on every instance. Per-user updates need none of this: each instance has its own queue per user.
///
/// Each instance publishes what it emits to a room, tagged with its origin id, and consumes a queue of
/// its own bound to the exchange; it drops its own messages and hands the rest to the hub, which emits
/// them to its local sockets in that room. Typing and presence are ephemeral: publishes are not
/// confirmed, the queue goes with the instance (auto-delete) and a message that finds no instance
/// listening is lost, as a typing indicator on a dead connection would be.
public final class RoomRelay: RoomRelaying, Service, Sendable {
    /// What another instance asked of this one, in the order it arrived.
    public enum Incoming: Sendable, Equatable {
        /// Emit `event` with `arguments` to this instance's sockets in `room`.
        case room(event: String, arguments: [JSONValue], room: String)
        /// A user came online or left on the instance `origin`.
        case presence(origin: String, PresenceNotice)
        /// Close the user's sockets and forget its accepted tokens.
        case kick(UserID)
        /// Close the sockets of one token (a logout elsewhere).
        case revoke(tokenID: String)
        /// The instance `origin` has been silent for `realtime.instance_timeout`: it died without a clean
        /// stop (a clean stop says its users left), so whoever was online only there is offline now.
        case gone(origin: String)
    }

    /// Unique per process, so an instance recognises its own messages even when instances share a name.
    public let origin: String
    private let exchange: String
    private let queue: String
    private let logger: Logger
    private let publisher: AMQPPublisher
    private let consumer: AMQPConsumer
    private let deliveries: AsyncStream<AMQPDelivery>
    private let deliveriesInput: AsyncStream<AMQPDelivery>.Continuation
    /// Other instances' messages, for `RelayInbox`; finished when the relay stops.
    public let incoming: AsyncStream<Incoming>
    private let incomingInput: AsyncStream<Incoming>.Continuation
    /// When each other instance was last heard of; each instance beats every third of `instanceTimeout`.
    private let lastHeard = Mutex<[String: ContinuousClock.Instant]>([:])
    private let instanceTimeout: Duration

    public init(config: ChatdConfig, logger: Logger) throws(AMQPURLError) {
        let url = try AMQPURL(config.rabbitMQURL)
        origin = (config.queues.instance.isEmpty ? "" : config.queues.instance + "-") + String((0..<12).map { _ in "0123456789abcdef".randomElement()! })
        exchange = config.eventsExchange
        queue = "chatd_events_\(origin)"
        instanceTimeout = .milliseconds(Int64(config.instanceTimeoutSeconds * 1000))
        self.logger = logger
        publisher = AMQPPublisher(url: url, options: .init(connectionName: "chatd relay publisher", waitForConfirms: false),
                                  logger: logger)
        let (stream, continuation) = AsyncStream<AMQPDelivery>.makeStream(bufferingPolicy: .unbounded)
        deliveries = stream
        deliveriesInput = continuation
        (incoming, incomingInput) = AsyncStream<Incoming>.makeStream(bufferingPolicy: .unbounded)
        consumer = AMQPConsumer(url: url, options: .init(connectionName: "chatd relay", prefetch: 256, heartbeat: .seconds(10)),
                                logger: logger, onDelivery: { continuation.yield($0) })
    }

    public func relayPresence(_ notice: PresenceNotice) {
        var message: [String: JSONValue] = [
            "kind": "presence", "state": notice.online ? "online" : "offline", "userId": .string(notice.userId.rawValue),
            "to": .array(notice.recipients.map { .string($0.rawValue) }),
        ]
        if let name = notice.userName { message["userName"] = .string(name) }
        publish(message, attempts: 1)
    }

    public func relay(_ event: String, _ arguments: [JSONValue], toRoom room: String) {
        publish(["kind": "room", "room": .string(room), "event": .string(event), "args": .array(arguments)], attempts: 1)
    }

    /// Asks the other instances to close the user's sockets and forget its accepted tokens.
    public func relayKick(_ userId: UserID) {
        publish(["kind": "kick", "userId": .string(userId.rawValue)], attempts: Self.closeAttempts)
    }

    /// Asks the other instances to close the sockets of one token (a logout here).
    public func relayRevoke(tokenID: String) {
        publish(["kind": "revoke", "jti": .string(tokenID)], attempts: Self.closeAttempts)
    }

    /// A kick or revocation is retried for about 6 s (0.2, 0.4, … 3.2 s apart), then reported: the other
    /// instances' session recheck (`auth.session_recheck`) still closes the sockets, only later.
    static let closeAttempts = 5

    private func publish(_ message: [String: JSONValue], attempts: Int) {
        var message = message
        message["origin"] = .string(origin)
        let body = Array(JSONValue.object(message).serialized().utf8)
        let kind = message["kind"]?.stringValue ?? "?"
        Task { [publisher, exchange, logger] in
            var delay = Duration.milliseconds(200)
            for attempt in 1...attempts {
                do {
                    try await publisher.publish(exchange: exchange, routingKey: "room", body: body, persistent: false)
                    return
                } catch {
                    if attempts == 1 {
                        // Typing and presence are ephemeral: a lost one is not worth more than a debug line.
                        logger.debug("instance relay publish failed", metadata: ["kind": "\(kind)", "error": "\(error)"])
                        return
                    }
                    if attempt == attempts {
                        logger.warning("instance relay could not send a session close; other instances close those sockets at their next session recheck",
                                       metadata: ["kind": "\(kind)", "attempts": "\(attempts)", "error": "\(error)"])
                        return
                    }
                    try? await Task.sleep(for: delay)
                    delay *= 2
                }
            }
        }
    }

    public func run() async throws {
        consumer.start()
        let subscribing = Task { [self] in await subscribe() }
        defer { subscribing.cancel() }
        let beating = Task { [self] in await beat() }
        defer { beating.cancel() }
        await withGracefulShutdownHandler {
            for await delivery in deliveries {
                consumer.ack(delivery.deliveryTag)
                if let message = decode(delivery.body) { incomingInput.yield(message) }
            }
            incomingInput.finish()
        } onGracefulShutdown: { [consumer, publisher, deliveriesInput, incomingInput] in
            deliveriesInput.finish()
            incomingInput.finish()
            Task {
                await consumer.stop()
                await publisher.close()
            }
        }
    }

    /// Tells the other instances this one is alive, every third of `instanceTimeout`, and reports the
    /// instances not heard of for that long as gone. A broker outage silences everyone alike, so
    /// instances are only judged while this one's own relay is connected.
    private func beat() async {
        while !Task.isCancelled {
            publish(["kind": "alive"], attempts: 1)
            let now = ContinuousClock.now
            if case .connected = consumer.state {
                let silent = lastHeard.withLock { heard in
                    let silent = heard.filter { now - $0.value > instanceTimeout }.keys
                    for origin in silent { heard[origin] = nil }
                    return Array(silent)
                }
                for origin in silent {
                    logger.warning("another chatd instance went silent; its users count as offline here",
                                   metadata: ["instance.origin": "\(origin)"])
                    incomingInput.yield(.gone(origin: origin))
                }
            } else {
                // Nobody could be heard meanwhile: start every clock again once connected.
                lastHeard.withLock { heard in for origin in heard.keys { heard[origin] = now } }
            }
            try? await Task.sleep(for: instanceTimeout / 3)
        }
    }

    /// Declares the exchange and this instance's queue once the broker answers; the consumer keeps
    /// the subscription across reconnects from then on.
    private func subscribe() async {
        var attempt = 0
        while !Task.isCancelled {
            do {
                try await consumer.declareExchange(exchange, type: "fanout", durable: true)
                _ = try await consumer.subscribe(
                    queue: queue, arguments: QueueArguments(expiresMs: 60_000, durable: false, autoDelete: true),
                    bindings: [AMQPBinding(exchange: exchange, routingKey: "room")])
                logger.debug("room relay subscribed", metadata: ["amqp.queue": "\(queue)"])
                return
            } catch {
                attempt += 1
                if attempt == 10 { logger.warning("room relay cannot subscribe yet", metadata: ["error": "\(error)"]) }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// Another instance's message, or nil for our own and for malformed ones (logged).
    func decode(_ body: [UInt8]) -> Incoming? {
        guard let message = try? JSONValue.parse(Data(body)), let from = message["origin"]?.stringValue else {
            logger.warning("malformed instance relay message dropped")
            return nil
        }
        guard from != origin else { return nil }
        lastHeard.withLock { $0[from] = ContinuousClock.now }
        switch message["kind"]?.stringValue {
        case "alive":
            return nil
        case "room":
            if let room = message["room"]?.stringValue, let event = message["event"]?.stringValue,
               let arguments = message["args"]?.arrayValue {
                return .room(event: event, arguments: arguments, room: room)
            }
        case "presence":
            if let user = message["userId"]?.stringValue.flatMap(UserID.init(rawValue:)),
               let state = message["state"]?.stringValue, state == "online" || state == "offline",
               let to = message["to"]?.arrayValue {
                return .presence(origin: from, PresenceNotice(
                    online: state == "online", userId: user, userName: message["userName"]?.stringValue,
                    recipients: to.compactMap { $0.stringValue.flatMap(UserID.init(rawValue:)) }))
            }
        case "kick":
            if let user = message["userId"]?.stringValue.flatMap(UserID.init(rawValue:)) { return .kick(user) }
        case "revoke":
            if let tokenID = message["jti"]?.stringValue { return .revoke(tokenID: tokenID) }
        default:
            break
        }
        logger.warning("malformed instance relay message dropped", metadata: ["origin": "\(from)"])
        return nil
    }
}
