import ChatAMQP
import ChatConfig
import ChatCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Delivers each user's Chat3 updates from RabbitMQ to that user's sockets.
///
/// - Subscription per connected user: a queue named by `rabbitmq.queue_template`, bound with both
///   generations' routing keys, kept for `x-expires` after the user's last socket closes so updates
///   published meanwhile arrive on reconnect. Several tabs share one subscription.
/// - The AMQP thread only enqueues deliveries; one task here normalizes, filters (tenant, duplicates),
///   emits, and acks only once the update's frames were written to every live socket of the user
///   (see `SocketIOServer.emit(_:to:whenWritten:)`). An update a socket's session ended before writing
///   is not acked: it goes to the user's sockets that are left, or, with none, back to the queue once
///   the subscription is cancelled, so the next connect gets it. Prefetch (`rabbitmq.prefetch`) bounds
///   how many updates a user's stuck socket can hold; the rest waits in RabbitMQ. Malformed payloads
///   are rejected without requeue, logged with the queue and counted.
/// - Broker loss is handled by the consumer (reconnect with backoff, resubscribe); `isConnected`
///   feeds `/ready`.
public final class UpdatePipeline: Service, Sendable {
    private let config: ChatdConfig
    private let logger: Logger
    private let metrics: ChatMetrics
    private let consumer: AMQPConsumer
    private let deliveries: AsyncStream<Event>
    private let deliveriesInput: AsyncStream<Event>.Continuation
    private let subscriptions: SubscriptionBook
    /// Where updates go: the hub, built before the pipeline.
    private let sockets: any UpdateDelivering
    /// The users' queues and what the hub asks of them.
    public let userQueues: UserQueues

    public init(userQueues: UserQueues, sockets: any UpdateDelivering) {
        self.userQueues = userQueues
        self.sockets = sockets
        config = userQueues.config
        logger = userQueues.logger
        metrics = userQueues.metrics
        consumer = userQueues.consumer
        deliveries = userQueues.events
        deliveriesInput = userQueues.eventsInput
        subscriptions = userQueues.book
    }

    public var isConnected: Bool { userQueues.isConnected }
    public var subscriptionCount: Int { userQueues.subscriptionCount }

    // MARK: the delivery loop

    public func run() async throws {
        consumer.start()
        // Declare the exchange so bindings succeed even before Chat3 first publishes; the broker may
        // not answer yet, so keep trying in the background.
        let declaring = Task { [consumer, config, logger] in
            var attempt = 0
            while !Task.isCancelled {
                do {
                    try await consumer.declareExchange(config.updatesExchange, type: "topic", durable: true)
                    return
                } catch {
                    attempt += 1
                    if attempt == 10 { logger.warning("cannot declare the updates exchange", metadata: ["error": "\(error)"]) }
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
        }
        defer { declaring.cancel() }
        var state = LoopState()
        await withGracefulShutdownHandler {
            for await event in deliveries {
                switch event {
                case .delivery(let message):
                    metrics.updatesReceived.increment()
                    await handle(message, started: ContinuousClock.now, state: &state)
                case .settled(let message, let key, let started, let written, let had):
                    await settle(message, key: key, started: started, written: written, had: had, state: &state)
                case .socketsBack(let userId):
                    for held in state.held.removeValue(forKey: userId) ?? [] {
                        await handle(held.message, started: held.started, state: &state)
                    }
                case .unsubscribed(let userId, let requeued):
                    for held in state.held.removeValue(forKey: userId) ?? [] {
                        consumer.reject(held.message.deliveryTag, requeue: true)
                    }
                    requeued.resume()
                }
            }
        } onGracefulShutdown: { [consumer, deliveriesInput] in
            // Unacknowledged deliveries go back to their queues when the connection closes.
            deliveriesInput.finish()
            Task { await consumer.stop() }
        }
        // Also when the loop was cancelled instead: a later unsubscribe's wait for its requeue then
        // returns at once.
        deliveriesInput.finish()
    }

    /// What the delivery loop reacts to, in order.
    enum Event: Sendable {
        case delivery(AMQPDelivery)
        /// Every socket the update went to has it (`written`), or one's session ended first; `had`: the
        /// sockets that have it, so a redelivery skips them.
        case settled(AMQPDelivery, key: String?, started: ContinuousClock.Instant, written: Bool, had: Set<String>)
        /// A user's first socket connected: updates held for want of a socket go to it.
        case socketsBack(String)
        /// A user's subscription was cancelled: updates held for them go back to their queue; resumed
        /// once their rejects are issued.
        case unsubscribed(String, CheckedContinuation<Void, Never>)
    }

    struct HeldUpdate {
        var message: AMQPDelivery
        var started: ContinuousClock.Instant
    }

    /// The loop's own state; only the loop task touches it.
    struct LoopState {
        /// Updates delivered (written) lately, so a repeat Chat3 published is emitted once.
        var duplicates = DuplicateFilter()
        /// Keys of updates emitted and not yet settled: a repeat arriving meanwhile is a duplicate too.
        var inFlight: [String: Int] = [:]
        /// Unacked updates of subscribed users who had no socket when they came, oldest first.
        var held: [String: [HeldUpdate]] = [:]
    }

    private func handle(_ message: AMQPDelivery, started: ContinuousClock.Instant, had: Set<String> = [],
                        state: inout LoopState) async {
        guard let subscriber = subscriptions.user(of: message.consumerTag) else {
            // A delivery for a subscription cancelled meanwhile: hand it back to the queue.
            consumer.reject(message.deliveryTag, requeue: true)
            return
        }
        let update: ChatUpdate
        switch UpdateNormalizer.normalize(routingKey: message.routingKey, body: message.body) {
        case .success(let parsed):
            update = parsed
        case .failure(let error):
            consumer.reject(message.deliveryTag, requeue: false)
            metrics.updatesDropped("malformed").increment()
            logger.warning("malformed update rejected", metadata: [
                "amqp.queue": "\(config.queues.queueName(for: subscriber))", "amqp.routing_key": "\(message.routingKey)",
                "error": "\(error)",
            ])
            return
        }
        if let tenant = update.tenantId, tenant.lowercased() != config.chat3.tenant.lowercased() {
            consumer.ack(message.deliveryTag)
            metrics.updatesDropped("tenant").increment()
            return
        }
        // A socket only ever gets its own user's updates, whatever the bindings matched.
        guard update.userId == subscriber else {
            consumer.ack(message.deliveryTag)
            metrics.updatesDropped("other_user").increment()
            return
        }
        let key = update.deduplicationKey
        if let key, state.inFlight[key] != nil || state.duplicates.contains(key, at: Date().timeIntervalSince1970) {
            consumer.ack(message.deliveryTag)
            metrics.updatesDropped("duplicate").increment()
            return
        }
        let input = deliveriesInput
        let reach = await sockets.deliver(UpdateEvents.emissions(for: update), toUser: subscriber, skipping: had) {
            wrote, allWrote in
            input.yield(.settled(message, key: key, started: started, written: allWrote, had: had.union(wrote)))
        }
        if reach.reached == 0, reach.alreadyHad > 0 {
            // A redelivery whose user's sockets all have it already.
            delivered(message, key: key, started: started, state: &state)
        } else if reach.reached == 0 {
            hold(message, started: started, for: subscriber, state: &state)
        } else if let key {
            state.inFlight[key, default: 0] += 1
        }
    }

    private func settle(_ message: AMQPDelivery, key: String?, started: ContinuousClock.Instant, written: Bool,
                        had: Set<String>, state: inout LoopState) async {
        if let key, let count = state.inFlight[key] {
            state.inFlight[key] = count > 1 ? count - 1 : nil
        }
        if written {
            delivered(message, key: key, started: started, state: &state)
        } else {
            // A socket's session ended before its client had it: hand it to the user's sockets that do
            // not have it (a new one, e.g. the same client reconnected), else hold it for the next
            // socket or the queue.
            metrics.updatesUnwritten.increment()
            await handle(message, started: started, had: had, state: &state)
        }
    }

    private func delivered(_ message: AMQPDelivery, key: String?, started: ContinuousClock.Instant,
                           state: inout LoopState) {
        consumer.ack(message.deliveryTag)
        if let key { state.duplicates.record(key, at: Date().timeIntervalSince1970) }
        metrics.updatesDelivered.increment()
        metrics.updateDeliverySeconds.record(ContinuousClock.now - started)
    }

    /// No socket took the update. While the consumer that delivered it is subscribed it waits here,
    /// unacked, for the user's next socket or the cancel (which requeues it); a requeue now, while that
    /// consumer still runs, would only bring it back here, and later than newer ones. Otherwise it
    /// goes back to the queue (the consumer is cancelled, so it stays there).
    private func hold(_ message: AMQPDelivery, started: ContinuousClock.Instant, for userId: String,
                      state: inout LoopState) {
        if subscriptions.tag(of: userId) == message.consumerTag {
            state.held[userId, default: []].append(HeldUpdate(message: message, started: started))
        } else {
            consumer.reject(message.deliveryTag, requeue: true)
        }
    }
}
