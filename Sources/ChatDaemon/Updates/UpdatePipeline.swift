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
    private let delivery = Mutex<(any UpdateDelivering)?>(nil)

    public init(config: ChatdConfig, metrics: ChatMetrics, logger: Logger) throws {
        self.config = config
        self.logger = logger
        self.metrics = metrics
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .unbounded)
        deliveries = stream
        deliveriesInput = continuation
        var options = AMQPConsumer.Options(connectionName: "chatd updates", prefetch: UInt16(clamping: config.prefetch))
        options.heartbeat = .seconds(10)
        let book = SubscriptionBook()
        subscriptions = book
        consumer = try AMQPConsumer(
            url: config.rabbitMQURL, options: options, logger: logger,
            onEvent: { event in UpdatePipeline.log(event, logger: logger) },
            onDelivery: { continuation.yield(.delivery($0)) })
    }

    /// A consumer event as words and fields, never a Swift value dump.
    static func log(_ event: AMQPConsumerEvent, logger: Logger) {
        switch event {
        case .stateChanged(let state):
            switch state {
            case .idle: break
            case .connected: logger.notice("amqp state", metadata: ["amqp.state": "connected"])
            case .disconnected(let reason): logger.notice("amqp state", metadata: ["amqp.state": "disconnected", "error": "\(reason)"])
            case .stopped: logger.notice("amqp state", metadata: ["amqp.state": "stopped"])
            }
        case .subscriptionLost(let tag, let reason):
            logger.warning("amqp subscription lost", metadata: ["amqp.consumer_tag": "\(tag.rawValue)", "error": "\(reason)"])
        }
    }

    /// The hub that owns the sockets; set once at start, before sockets connect.
    public func attach(_ target: any UpdateDelivering) {
        delivery.withLock { $0 = target }
    }

    public var isConnected: Bool {
        if case .connected = consumer.state { return true }
        return false
    }

    public var subscriptionCount: Int { subscriptions.count }

    /// Whether the user's queue is declared, bound and consumed right now.
    public func isSubscribed(_ userId: String) -> Bool { subscriptions.tag(of: userId) != nil }

    /// The queue and bindings of a user's subscription, as `chatctl queue --user` resolves them too.
    func subscriptionPlan(for userId: String) -> (queue: String, bindings: [AMQPBinding]) {
        (config.queueName(for: userId),
         config.bindingKeys(for: userId).map { AMQPBinding(exchange: config.updatesExchange, routingKey: $0) })
    }

    // MARK: lifecycle of user subscriptions

    /// A user's first socket on this instance connected.
    public func userConnected(_ userId: String) {
        subscriptions.want(userId) { [self] in await self.reconcile(userId) }
        deliveriesInput.yield(.socketsBack(userId))
    }

    /// Waits until the user's queue is consumed, so a socket that is told it is connected gets every
    /// update published from then on. Returns false at once while the broker is unreachable (the
    /// subscription follows on reconnect), and after `timeout` if subscribing is slow.
    public func waitUntilSubscribed(_ userId: String, timeout: Duration) async -> Bool {
        guard isConnected else { return false }
        let subscribed = await subscriptions.waitForTag(of: userId, timeout: timeout)
        if !subscribed {
            logger.debug("connected before the subscription was ready", metadata: ["user.id": "\(userId)"])
        }
        return subscribed
    }

    /// A user's last socket on this instance closed.
    public func userDisconnected(_ userId: String) {
        subscriptions.unwant(userId) { [self] in await self.reconcile(userId) }
    }

    /// Brings the broker in line with whether the user is wanted; runs serialized per user.
    private func reconcile(_ userId: String) async {
        let wanted = subscriptions.isWanted(userId)
        let current = subscriptions.tag(of: userId)
        if wanted, current == nil {
            let plan = subscriptionPlan(for: userId)
            let expires = config.queueExpiresSeconds > 0 ? Int(config.queueExpiresSeconds * 1000) : nil
            do {
                let tag = try await consumer.subscribe(
                    queue: plan.queue, arguments: QueueArguments(expiresMs: expires, durable: false, autoDelete: false),
                    bindings: plan.bindings)
                subscriptions.setTag(tag, for: userId)
                logger.debug("subscribed", metadata: ["user.id": "\(userId)", "amqp.queue": "\(plan.queue)"])
            } catch {
                logger.warning("subscribe failed", metadata: ["user.id": "\(userId)", "error": "\(error)"])
                // The consumer re-subscribes what it knows after reconnecting; a subscribe refused while
                // disconnected is retried here shortly.
                try? await Task.sleep(for: .milliseconds(500))
                if subscriptions.isWanted(userId) { subscriptions.schedule(userId) { [self] in await self.reconcile(userId) } }
            }
        } else if !wanted, let tag = current {
            subscriptions.setTag(nil, for: userId)
            // x-expires = 0 is the seed's behaviour: the queue goes with the last socket.
            try? await consumer.cancel(tag, deleteQueue: config.queueExpiresSeconds == 0)
            // Held updates go back to the queue now that nothing here consumes it, before a new
            // subscription starts (the next link of this user's chain), so they keep their place
            // ahead of what came after them.
            await withCheckedContinuation { (requeued: CheckedContinuation<Void, Never>) in
                if case .terminated = deliveriesInput.yield(.unsubscribed(userId, requeued)) { requeued.resume() }
            }
            logger.debug("unsubscribed", metadata: ["user.id": "\(userId)"])
        }
    }

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
                "amqp.queue": "\(config.queueName(for: subscriber))", "amqp.routing_key": "\(message.routingKey)",
                "error": "\(error)",
            ])
            return
        }
        if let tenant = update.tenantId, tenant.lowercased() != config.chat3Tenant.lowercased() {
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
        let target = delivery.withLock { $0 }
        let input = deliveriesInput
        let reach = await target?.deliver(UpdateEvents.emissions(for: update), toUser: subscriber, skipping: had) {
            wrote, allWrote in
            input.yield(.settled(message, key: key, started: started, written: allWrote, had: had.union(wrote)))
        } ?? (reached: 0, alreadyHad: 0)
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

/// Which users are wanted here, their consumer tags, and one reconcile task chain per user so
/// connect/disconnect storms for one user never race each other.
final class SubscriptionBook: Sendable {
    private struct Entry {
        var wanted = false
        var tag: ConsumerTag?
        var chain: Task<Void, Never>?
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var users: [ConsumerTag: String] = [:]
        /// Connects waiting for a user's subscription, by user and waiter number.
        var waiters: [String: [UInt64: CheckedContinuation<Bool, Never>]] = [:]
        var nextWaiter: UInt64 = 0

        /// Takes the user's waiters out, to be resumed outside the lock.
        mutating func takeWaiters(of userId: String) -> [CheckedContinuation<Bool, Never>] {
            Array((waiters.removeValue(forKey: userId) ?? [:]).values)
        }
    }

    private let state = Mutex(State())

    var count: Int { state.withLock { $0.users.count } }

    func want(_ userId: String, reconcile: @escaping @Sendable () async -> Void) {
        state.withLock { $0.entries[userId, default: Entry()].wanted = true }
        schedule(userId, reconcile)
    }

    func unwant(_ userId: String, reconcile: @escaping @Sendable () async -> Void) {
        let waiting = state.withLock { state in
            state.entries[userId, default: Entry()].wanted = false
            return state.takeWaiters(of: userId)
        }
        for waiter in waiting { waiter.resume(returning: false) }
        schedule(userId, reconcile)
    }

    /// True as soon as the user has a consumer tag; false if they stop being wanted or on timeout.
    func waitForTag(of userId: String, timeout: Duration) async -> Bool {
        await withCheckedContinuation { continuation in
            let number: UInt64? = state.withLock { state in
                guard state.entries[userId]?.tag == nil else { return nil }
                guard state.entries[userId]?.wanted == true else { return nil }
                state.nextWaiter += 1
                state.waiters[userId, default: [:]][state.nextWaiter] = continuation
                return state.nextWaiter
            }
            guard let number else {
                continuation.resume(returning: tag(of: userId) != nil)
                return
            }
            Task {
                try? await Task.sleep(for: timeout)
                let expired = self.state.withLock { $0.waiters[userId]?.removeValue(forKey: number) }
                expired?.resume(returning: false)
            }
        }
    }

    func isWanted(_ userId: String) -> Bool { state.withLock { $0.entries[userId]?.wanted ?? false } }
    func tag(of userId: String) -> ConsumerTag? { state.withLock { $0.entries[userId]?.tag } }
    func user(of tag: ConsumerTag) -> String? { state.withLock { $0.users[tag] } }

    func setTag(_ tag: ConsumerTag?, for userId: String) {
        let subscribed = state.withLock { state in
            if let old = state.entries[userId]?.tag { state.users[old] = nil }
            state.entries[userId, default: Entry()].tag = tag
            if let tag { state.users[tag] = userId }
            if tag == nil, state.entries[userId]?.wanted == false { state.entries[userId] = nil }
            return tag == nil ? [] : state.takeWaiters(of: userId)
        }
        for waiter in subscribed { waiter.resume(returning: true) }
    }

    /// Chains `work` after whatever is already scheduled for this user.
    func schedule(_ userId: String, _ work: @escaping @Sendable () async -> Void) {
        state.withLock { state in
            let previous = state.entries[userId, default: Entry()].chain
            state.entries[userId, default: Entry()].chain = Task {
                await previous?.value
                await work()
            }
        }
    }
}
