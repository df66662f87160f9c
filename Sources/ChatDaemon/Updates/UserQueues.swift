import ChatAMQP
import ChatConfig
import ChatCore
import Foundation
import Logging
import Synchronization

/// The users' update queues as the real-time hub sees them: a user's first socket here subscribes
/// their queue, the last one leaving cancels it, and a CONNECT can wait until the queue is consumed.
/// Built before the hub (which calls it) and handed to `UpdatePipeline` (which delivers what the queues
/// bring), so nothing is wired after construction. Owns the AMQP consumer and the event stream the
/// pipeline's loop reads; subscription changes land in that stream too, in order with deliveries.
public final class UserQueues: Sendable {
    let config: ChatdConfig
    let logger: Logger
    let metrics: ChatMetrics
    let consumer: AMQPConsumer
    let events: AsyncStream<UpdatePipeline.Event>
    let eventsInput: AsyncStream<UpdatePipeline.Event>.Continuation
    let book = SubscriptionBook()
    let dormant = DormantQueues()

    public init(config: ChatdConfig, metrics: ChatMetrics, logger: Logger) throws {
        self.config = config
        self.logger = logger
        self.metrics = metrics
        let (stream, continuation) = AsyncStream<UpdatePipeline.Event>.makeStream(bufferingPolicy: .unbounded)
        events = stream
        eventsInput = continuation
        var options = AMQPConsumer.Options(connectionName: "chatd updates", prefetch: UInt16(clamping: config.prefetch))
        options.heartbeat = .seconds(10)
        // Updates are acked on receipt, so out of order and each some time after delivery: spread over
        // 64 channels, the broker's unacked list each single ack walks stays short (BENCHMARKS.md,
        // "Issue 12/17"). 64 of the 2,047 channels a connection may have.
        options.consumeChannels = 64
        // A receipt confirms a socket's updates of up to `realtime.receipt_delay`, while the updates of
        // the channel's other users wait for theirs: held a little longer than that, most acks are
        // covered by a `multiple` ack from the head of the channel's unacknowledged list, which the
        // broker takes without a walk. A held ack counts against its consumer's prefetch: at most
        // prefetch/2 wait per channel (a receipt is asked for at prefetch/4).
        options.ackHold = .milliseconds(Int64(config.receiptDelaySeconds * 1000) + 1000)
        options.maxHeldAcks = max(1, config.prefetch / 2)
        consumer = try AMQPConsumer(
            url: config.rabbitMQURL, options: options, logger: logger,
            onEvent: { [dormant] event in
                UserQueues.log(event, logger: logger)
                // A restarted broker has lost its transient queues; a lost subscription may mean a deleted one.
                switch event {
                case .stateChanged(.disconnected), .stateChanged(.stopped), .subscriptionLost: dormant.forgetAll()
                default: break
                }
            },
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

    public var isConnected: Bool {
        if case .connected = consumer.state { return true }
        return false
    }

    public var subscriptionCount: Int { book.count }

    /// Whether the user's queue is declared, bound and consumed right now.
    public func isSubscribed(_ userId: String) -> Bool { book.tag(of: userId) != nil }

    /// Whether the user's queue is known to exist with its bindings: consumed now, or cancelled here
    /// within its `x-expires`. What Chat3 publishes for the user from then on waits in it.
    public func hasQueue(_ userId: String) -> Bool { isSubscribed(userId) || dormant.exists(userId) }

    /// The queue and bindings of a user's subscription, as `chatctl queue --user` resolves them too.
    func subscriptionPlan(for userId: String) -> (queue: String, bindings: [AMQPBinding]) {
        (config.queues.queueName(for: userId),
         config.queues.bindingKeys(for: userId).map { AMQPBinding(exchange: config.updatesExchange, routingKey: $0) })
    }

    // MARK: lifecycle of user subscriptions

    /// A user's first socket on this instance connected.
    public func userConnected(_ userId: String) {
        book.want(userId) { [self] in await self.reconcile(userId) }
        eventsInput.yield(.socketsBack(userId))
    }

    /// Waits until the user's queue is consumed, so a socket that is told it is connected gets every
    /// update published from then on. Returns false at once while the broker is unreachable (the
    /// subscription follows on reconnect), and after `timeout` if subscribing is slow. Returns true at
    /// once when the queue is known to exist (cancelled here within `x-expires`, as on a reconnect):
    /// what is published before the consumer is back waits in it.
    public func waitUntilSubscribed(_ userId: String, timeout: Duration) async -> Bool {
        guard isConnected else { return false }
        if dormant.exists(userId) { return true }
        let subscribed = await book.waitForTag(of: userId, timeout: timeout)
        if !subscribed {
            logger.debug("connected before the subscription was ready", metadata: ["user.id": "\(userId)"])
        }
        return subscribed
    }

    /// A user's last socket on this instance closed.
    public func userDisconnected(_ userId: String) {
        book.unwant(userId) { [self] in await self.reconcile(userId) }
    }

    /// Brings the broker in line with whether the user is wanted; runs serialized per user.
    private func reconcile(_ userId: String) async {
        let wanted = book.isWanted(userId)
        let current = book.tag(of: userId)
        if wanted, current == nil {
            let plan = subscriptionPlan(for: userId)
            let expires = config.queueExpiresSeconds > 0 ? Int(config.queueExpiresSeconds * 1000) : nil
            do {
                let tag = try await consumer.subscribe(
                    queue: plan.queue, arguments: QueueArguments(expiresMs: expires, durable: false, autoDelete: false),
                    bindings: plan.bindings)
                book.setTag(tag, for: userId)
                dormant.consumed(userId)
                logger.debug("subscribed", metadata: ["user.id": "\(userId)", "amqp.queue": "\(plan.queue)"])
            } catch {
                logger.warning("subscribe failed", metadata: ["user.id": "\(userId)", "error": "\(error)"])
                // The consumer re-subscribes what it knows after reconnecting; a subscribe refused while
                // disconnected is retried here shortly.
                try? await Task.sleep(for: .milliseconds(500))
                if book.isWanted(userId) { book.schedule(userId) { [self] in await self.reconcile(userId) } }
            }
        } else if !wanted, let tag = current {
            book.setTag(nil, for: userId)
            // x-expires = 0 is the seed's behaviour: the queue goes with the last socket.
            do {
                try await consumer.cancel(tag, deleteQueue: config.queueExpiresSeconds == 0)
                if config.queueExpiresSeconds > 0 { dormant.cancelled(userId, expiresIn: config.queueExpiresSeconds) }
            } catch {}
            // Held updates go back to the queue now that nothing here consumes it, before a new
            // subscription starts (the next link of this user's chain), so they keep their place
            // ahead of what came after them.
            await withCheckedContinuation { (requeued: CheckedContinuation<Void, Never>) in
                if case .terminated = eventsInput.yield(.unsubscribed(userId, requeued)) { requeued.resume() }
            }
            logger.debug("unsubscribed", metadata: ["user.id": "\(userId)"])
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
        /// Which `schedule` set `chain`: the last link clears it when done, so a finished task (and the
        /// memory its allocator kept) is not held for the whole life of the user's connection.
        var link: UInt64 = 0
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
            state.entries[userId, default: Entry()].link &+= 1
            let link = state.entries[userId, default: Entry()].link
            state.entries[userId, default: Entry()].chain = Task { [self] in
                await previous?.value
                await work()
                self.state.withLock { state in
                    if state.entries[userId]?.link == link { state.entries[userId]?.chain = nil }
                }
            }
        }
    }
}

/// Users whose queue surely exists though nothing here consumes it: cancelled here, and `x-expires`
/// (which counts from the cancel) not yet run out. Their next CONNECT need not wait for the
/// subscription. Forgotten when the broker connection drops, since a restarted broker has lost its
/// transient queues.
final class DormantQueues: Sendable {
    private struct State {
        var until: [String: ContinuousClock.Instant] = [:]
        var pruneAt = 1024
    }

    private let state = Mutex(State())
    private let now: @Sendable () -> ContinuousClock.Instant

    init(now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.now = now
    }

    /// The user's consumer was cancelled and its queue expires `seconds` after that; counted as
    /// existing for 90 % of it, so a clock step or a slow cancel answer cannot make it count too long.
    func cancelled(_ userId: String, expiresIn seconds: Double) {
        let time = now()
        state.withLock { state in
            state.until[userId] = time + .milliseconds(Int64(seconds * 900))
            guard state.until.count >= state.pruneAt else { return }
            state.until = state.until.filter { $0.value > time }
            state.pruneAt = max(1024, state.until.count * 2)
        }
    }

    /// The user's queue is consumed again.
    func consumed(_ userId: String) {
        _ = state.withLock { $0.until.removeValue(forKey: userId) }
    }

    func exists(_ userId: String) -> Bool {
        let time = now()
        return state.withLock { ($0.until[userId] ?? time) > time }
    }

    func forgetAll() {
        state.withLock { $0.until.removeAll() }
    }

    var count: Int { state.withLock { $0.until.count } }
}

