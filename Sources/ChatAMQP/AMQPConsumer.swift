import Logging
import Synchronization

/// Consumes chatd's per-user queues over one connection, the consumers spread over
/// `Options.consumeChannels` channels.
///
/// Threading: the connection belongs to a dedicated thread started by `start()`. Every public method
/// may be called from any thread or task; it enqueues a command for that thread. The delivery handler
/// and the event observer are called **on the AMQP thread**, in order: they must be cheap and must not
/// block (hand the delivery to an `AsyncStream`, an actor or a lock-protected buffer). Calling `ack`
/// or `reject` from inside the handler is fine.
///
/// Acknowledgement is manual: every delivery must be `ack`ed or `reject`ed. Deliveries that arrive for
/// a subscription already cancelled are requeued automatically; those the handler already received
/// stay unacknowledged until the caller acks or rejects them (reject with `requeue: true` to hand them
/// back).
///
/// Broker loss (heartbeat timeout, closed socket, connection.close) emits `.disconnected`, then the
/// thread reconnects with capped, jittered exponential backoff, re-declares and re-binds every active
/// subscription, consumes again with the same consumer tags, and emits `.connected`.
public final class AMQPConsumer: Sendable {
    public struct Options: Sendable {
        public var connectionName: String
        /// basic.qos prefetch count, per subscription: unacknowledged deliveries one queue may have.
        public var prefetch: UInt16
        public var heartbeat: Duration
        public var reconnectDelay: Duration
        public var maxReconnectDelay: Duration
        /// While the broker stays unreachable, one "still unreachable" line per this interval.
        public var outageLogInterval: Duration = .seconds(60)
        public var connectTimeout: Duration
        public var rpcTimeout: Duration
        /// Deliveries handled per loop turn before queued commands (acks, subscribes) get a turn.
        public var deliveriesPerTurn: Int
        /// Channels the subscriptions are spread over (round robin). The broker keeps one list of
        /// unacknowledged deliveries per channel and finds a single (non-`multiple`) ack by walking it
        /// from the oldest, so acks that come out of order — each socket confirms on its own round
        /// trip — cost in proportion to what the channel holds unacked; more channels, shorter lists.
        public var consumeChannels: Int = 1
        /// How long an ack that comes out of order may wait for a `multiple` ack to cover it (see
        /// `DeliveryLedger`); zero sends it alone at once. A held ack still counts against its
        /// consumer's prefetch, hence also `maxHeldAcks`.
        public var ackHold: Duration = .zero
        /// Held acks per channel past which the oldest go out alone.
        public var maxHeldAcks: Int = 128

        public init(connectionName: String = "chatd consumer", prefetch: UInt16 = 64,
                    heartbeat: Duration = .seconds(30), reconnectDelay: Duration = .milliseconds(200),
                    maxReconnectDelay: Duration = .seconds(5), connectTimeout: Duration = .seconds(2),
                    rpcTimeout: Duration = .seconds(10), deliveriesPerTurn: Int = 256) {
            self.connectionName = connectionName
            self.prefetch = prefetch
            self.heartbeat = heartbeat
            self.reconnectDelay = reconnectDelay
            self.maxReconnectDelay = maxReconnectDelay
            self.connectTimeout = connectTimeout
            self.rpcTimeout = rpcTimeout
            self.deliveriesPerTurn = deliveriesPerTurn
        }
    }

    public typealias DeliveryHandler = @Sendable (AMQPDelivery) -> Void
    public typealias EventHandler = @Sendable (AMQPConsumerEvent) -> Void

    enum Command: Sendable {
        case subscribe(Subscription, CheckedContinuation<ConsumerTag, any Error>)
        case cancel(ConsumerTag, deleteQueue: Bool, CheckedContinuation<Void, any Error>)
        case ack(DeliveryTag)
        case reject(DeliveryTag, requeue: Bool)
        case declareExchange(name: String, type: String, durable: Bool, CheckedContinuation<Void, any Error>)
        case stop(CheckedContinuation<Void, Never>?)

        var isAck: Bool {
            if case .ack = self { return true }
            return false
        }
    }

    struct Subscription: Sendable {
        var tag: ConsumerTag
        var queue: String
        var arguments: QueueArguments
        var bindings: [AMQPBinding]
    }

    private struct Shared {
        var started = false
        var state = AMQPConnectionState.idle
        var nextTag: UInt64 = 1
    }

    private let worker = AMQPWorker<Command>()
    private let shared = LockedBox(Shared())
    private let tagPrefix: String
    private let settings: AMQPConnection.Settings
    private let options: Options
    private let logger: Logger
    private let onDelivery: DeliveryHandler
    private let onEvent: EventHandler

    public init(url: AMQPURL, options: Options = Options(), logger: Logger,
                onEvent: @escaping EventHandler = { _ in }, onDelivery: @escaping DeliveryHandler) {
        self.settings = AMQPConnection.Settings(url: url, connectionName: options.connectionName,
                                                heartbeatSeconds: Int(options.heartbeat.components.seconds),
                                                connectTimeout: options.connectTimeout, rpcTimeout: options.rpcTimeout)
        self.options = options
        var logger = logger
        logger[metadataKey: "amqp.url"] = "\(url)"
        self.logger = logger
        self.onDelivery = onDelivery
        self.onEvent = onEvent
        let random = UInt64.random(in: 0..<UInt64.max)
        self.tagPrefix = "chatd-" + String(random, radix: 36)
    }

    /// Parses `url` (see `AMQPURL`) and creates the consumer.
    public convenience init(url: String, options: Options = Options(), logger: Logger,
                            onEvent: @escaping EventHandler = { _ in },
                            onDelivery: @escaping DeliveryHandler) throws(AMQPURLError) {
        self.init(url: try AMQPURL(url), options: options, logger: logger, onEvent: onEvent, onDelivery: onDelivery)
    }

    deinit {
        worker.send(.stop(nil))
    }

    /// The current connection state (also reported through `onEvent`).
    public var state: AMQPConnectionState { shared.withLock { $0.state } }

    /// Starts the thread, which connects at once and keeps reconnecting. Calling it again does nothing.
    public func start() {
        let first = shared.withLock { shared in
            defer { shared.started = true }
            return !shared.started
        }
        guard first else { return }
        let loop = ConsumerLoopContext(worker: worker, settings: settings, options: options, logger: logger,
                                       onDelivery: onDelivery, onEvent: onEvent,
                                       setState: { [shared] state in shared.withLock { $0.state = state } })
        worker.startThread(name: "amqp-consumer") { ConsumerLoop(loop).run() }
    }

    /// Cancels nothing on the broker side (queues stay until `x-expires`): closes the connection, so
    /// unacknowledged deliveries go back to their queues, and ends the thread.
    public func stop() async {
        let wasStarted = shared.withLock { shared in
            defer { shared.started = true } // a stopped consumer cannot be started again
            return shared.started
        }
        guard wasStarted else {
            for command in worker.closeQueue() { ConsumerLoop.fail(command, with: .closed) }
            shared.withLock { $0.state = .stopped }
            return
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !worker.send(.stop(continuation)) { continuation.resume() }
        }
    }

    /// Declares `queue` (with `x-expires` etc.), binds it, and consumes from it with manual ack.
    ///
    /// If the queue already exists with other arguments (say, from an older deployment), it is used
    /// as it is and a warning is logged. Throws `.notConnected` while the consumer is reconnecting.
    public func subscribe(queue: String, arguments: QueueArguments = QueueArguments(),
                          bindings: [AMQPBinding]) async throws -> ConsumerTag {
        let tag = shared.withLock { shared in
            defer { shared.nextTag += 1 }
            return ConsumerTag(rawValue: "\(tagPrefix)-\(shared.nextTag)")
        }
        let subscription = Subscription(tag: tag, queue: queue, arguments: arguments, bindings: bindings)
        return try await withCheckedThrowingContinuation { continuation in
            if !worker.send(.subscribe(subscription, continuation)) { continuation.resume(throwing: AMQPError.closed) }
        }
    }

    /// `subscribe` with bindings written as `(exchange, routingKey)` pairs. Disfavoured so that an
    /// empty literal `bindings: []` picks the `AMQPBinding` form instead of being ambiguous.
    @_disfavoredOverload
    public func subscribe(queue: String, arguments: QueueArguments = QueueArguments(),
                          bindings: [(exchange: String, routingKey: String)]) async throws -> ConsumerTag {
        try await subscribe(queue: queue, arguments: arguments,
                            bindings: bindings.map { AMQPBinding(exchange: $0.exchange, routingKey: $0.routingKey) })
    }

    /// Stops consuming (basic.cancel). The queue stays, collecting messages, until its `x-expires`
    /// runs out — unless `deleteQueue`, which deletes it now. Unknown tags are ignored.
    public func cancel(_ tag: ConsumerTag, deleteQueue: Bool = false) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            if !worker.send(.cancel(tag, deleteQueue: deleteQueue, continuation)) {
                continuation.resume(throwing: AMQPError.closed)
            }
        }
    }

    /// Acknowledges a delivery. Fire-and-forget: a tag from an earlier connection is ignored (the
    /// broker already requeued that message).
    public func ack(_ tag: DeliveryTag) {
        worker.send(.ack(tag))
    }

    /// Rejects a delivery; without `requeue` the broker drops it (or dead-letters it if so configured).
    public func reject(_ tag: DeliveryTag, requeue: Bool = false) {
        worker.send(.reject(tag, requeue: requeue))
    }

    /// Declares an exchange (idempotent when it exists with the same type and durability).
    public func declareExchange(_ name: String, type: String = "topic", durable: Bool = true) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            if !worker.send(.declareExchange(name: name, type: type, durable: durable, continuation)) {
                continuation.resume(throwing: AMQPError.closed)
            }
        }
    }
}

/// Everything the consumer thread needs, handed over once at start.
struct ConsumerLoopContext: Sendable {
    var worker: AMQPWorker<AMQPConsumer.Command>
    var settings: AMQPConnection.Settings
    var options: AMQPConsumer.Options
    var logger: Logger
    var onDelivery: AMQPConsumer.DeliveryHandler
    var onEvent: AMQPConsumer.EventHandler
    var setState: @Sendable (AMQPConnectionState) -> Void
}

/// The consumer's thread: owns the connection and the registry of active subscriptions.
private final class ConsumerLoop {
    /// Declarations run on their own channel, so a refused declare (which closes its channel) does
    /// not take the consumers down with it.
    private static let adminChannel: UInt16 = 2
    /// The channels consumers live on: 1, then 3, 4, … (`Options.consumeChannels` of them).
    private let consumeChannels: [UInt16]
    /// Each subscription's channel on the current connection.
    private var channelOf: [ConsumerTag: UInt16] = [:]
    /// Consume channels opened on the current connection. Opened on first use: a chatd with a few
    /// users (or a test run starting dozens of chatd) would otherwise pay two round trips per channel
    /// at every connect for channels it never uses.
    private var openedChannels: Set<UInt16> = []
    private var nextChannel = 0

    private let context: ConsumerLoopContext
    private var logger: Logger { context.logger }
    private var connection: AMQPConnection?
    private var generation: UInt64 = 0
    /// Acknowledgement bookkeeping per channel of the current connection (see `settle`).
    private var ledgers: [UInt16: DeliveryLedger] = [:]
    private var subscriptions: [ConsumerTag: AMQPConsumer.Subscription] = [:]
    private var subscriptionOrder: [ConsumerTag] = []
    private var backoff: Backoff
    private var nextAttempt = ContinuousClock.now
    /// A warning when the broker goes away, then a summary a minute, not one per attempt.
    private var outage: OutageLog
    private var lastReportedState = AMQPConnectionState.idle

    init(_ context: ConsumerLoopContext) {
        self.context = context
        let extra = max(0, min(context.options.consumeChannels, 2000) - 1)
        consumeChannels = [1] + (0..<extra).map { UInt16(3 + $0) }
        self.backoff = Backoff(initial: context.options.reconnectDelay, maximum: context.options.maxReconnectDelay)
        outage = OutageLog(what: "amqp consumer", connection: context.options.connectionName,
                           repeatEvery: context.options.outageLogInterval)
    }

    func run() {
        var stopWaiters: [CheckedContinuation<Void, Never>] = []
        var stopping = false
        while !stopping {
            var acks: [DeliveryTag] = []
            // Subscribes that came together are established together (`subscribe(_:)`), in their order
            // with the other commands.
            var subscribes: [PendingSubscribe] = []
            for command in context.worker.drain() {
                if stopping { Self.fail(command, with: .closed); continue }
                if case .subscribe(let subscription, let continuation) = command {
                    subscribes.append((subscription, continuation))
                    continue
                }
                if !subscribes.isEmpty, !command.isAck {
                    subscribe(subscribes)
                    subscribes = []
                }
                if case .stop(let continuation) = command {
                    stopping = true
                    if let continuation { stopWaiters.append(continuation) }
                } else if case .ack(let tag) = command {
                    if tag.connection == generation { acks.append(tag) }
                } else {
                    execute(command)
                }
            }
            if !subscribes.isEmpty { subscribe(subscribes) }
            settle(acks)
            if stopping {
                // Held acks go out before the connection closes: the broker would redeliver them.
                sendOverdueAcks(flushAll: true)
                break
            }
            sendOverdueAcks(flushAll: false)
            if connection == nil, ContinuousClock.now >= nextAttempt { connect() }
            var moreToRead = false
            if connection != nil { moreToRead = readIncoming() }
            if moreToRead { continue }
            if let connection {
                if connection.hasBufferedInput { continue }
                var timeout = Duration.seconds(1)
                if let due = nextHeldAckDue { timeout = min(timeout, max(.zero, due - ContinuousClock.now)) }
                context.worker.wait(socket: connection.socketDescriptor, timeout: timeout)
            } else {
                context.worker.wait(socket: nil, timeout: max(.zero, nextAttempt - ContinuousClock.now))
            }
        }
        for command in context.worker.closeQueue() {
            if case .stop(let continuation) = command { continuation?.resume() } else { Self.fail(command, with: .closed) }
        }
        connection?.close()
        connection = nil
        report(.stopped)
        logger.debug("amqp consumer stopped")
        for waiter in stopWaiters { waiter.resume() }
    }

    // MARK: Commands

    private func execute(_ command: AMQPConsumer.Command) {
        switch command {
        case .subscribe(let subscription, let continuation):
            subscribe([(subscription, continuation)])
        case .cancel(let tag, let deleteQueue, let continuation):
            let subscription = subscriptions.removeValue(forKey: tag)
            subscriptionOrder.removeAll { $0 == tag }
            guard let subscription, let connection else {
                continuation.resume()
                return
            }
            do {
                // Without a channel it consumes nothing on this connection: nothing to cancel.
                if let channel = channelOf.removeValue(forKey: tag) {
                    try connection.cancel(channel, consumerTag: tag.rawValue)
                }
                if deleteQueue { try connection.deleteQueue(Self.adminChannel, name: subscription.queue) }
                continuation.resume()
            } catch {
                continuation.resume(throwing: error.publicError)
                handle(error)
            }
        case .ack(let tag):
            settle(tag.connection == generation ? [tag] : [])
        case .reject(let tag, let requeue):
            guard let connection, tag.connection == generation else { return }
            ledgers[tag.channel, default: DeliveryLedger()].settledAlone(tag.value)
            do {
                try connection.reject(tag.channel, deliveryTag: tag.value, requeue: requeue)
            } catch {
                handle(error)
            }
        case .declareExchange(let name, let type, let durable, let continuation):
            guard let connection else {
                continuation.resume(throwing: AMQPError.notConnected)
                return
            }
            do {
                try connection.declareExchange(Self.adminChannel, name: name, type: type, durable: durable)
                continuation.resume()
            } catch {
                continuation.resume(throwing: error.publicError)
                handle(error)
            }
        case .stop:
            break
        }
    }

    /// Sends the acknowledgements the application gave since the last turn, per channel: one
    /// `multiple` ack for the run of oldest deliveries they complete, single acks for the rest. Under
    /// load a turn carries hundreds of acks, and this saves a frame (and a write) per message.
    private func settle(_ acks: [DeliveryTag]) {
        guard let connection, !acks.isEmpty else { return }
        var byChannel: [UInt16: [UInt64]] = [:]
        for tag in acks { byChannel[tag.channel, default: []].append(tag.value) }
        let holding = context.options.ackHold > .zero
        let now = ContinuousClock.now
        do {
            for (channel, tags) in byChannel {
                let plan = ledgers[channel, default: DeliveryLedger()].settle(tags, holdingAt: holding ? now : nil)
                if let upTo = plan.multipleUpTo { try connection.ack(channel, deliveryTag: upTo, multiple: true) }
                for tag in plan.single { try connection.ack(channel, deliveryTag: tag) }
            }
        } catch {
            handle(error)
        }
    }

    /// Sends alone the held acks that waited `ackHold` (or all, before closing), and the oldest of a
    /// channel past `maxHeldAcks`.
    private func sendOverdueAcks(flushAll: Bool) {
        guard let connection, context.options.ackHold > .zero else { return }
        let now = ContinuousClock.now
        do {
            for channel in Array(ledgers.keys) where ledgers[channel]!.heldCount > 0 {
                let due = ledgers[channel]!.overdue(now: now, limit: flushAll ? .zero : context.options.ackHold,
                                                    maxHeld: flushAll ? 0 : context.options.maxHeldAcks)
                for tag in due { try connection.ack(channel, deliveryTag: tag) }
            }
        } catch {
            handle(error)
        }
    }

    /// When the next held ack is due (nil: none is held).
    private var nextHeldAckDue: ContinuousClock.Instant? {
        guard context.options.ackHold > .zero else { return nil }
        return ledgers.values.compactMap { $0.nextDue(limit: context.options.ackHold) }.min()
    }

    typealias PendingSubscribe = (subscription: AMQPConsumer.Subscription, reply: CheckedContinuation<ConsumerTag, any Error>)

    /// Subscriptions established in one round trip at most: bounds the burst of frames one turn writes,
    /// and what a refusal in a batch makes redo one at a time.
    static let maxBatch = 256

    /// Establishes the subscriptions and answers each caller.
    private func subscribe(_ pending: [PendingSubscribe]) {
        for start in stride(from: 0, to: pending.count, by: Self.maxBatch) {
            let batch = pending[start..<min(start + Self.maxBatch, pending.count)]
            guard let connection else {
                for (_, reply) in batch { reply.resume(throwing: AMQPError.notConnected) }
                continue
            }
            let failures = establish(batch: batch.map(\.subscription), on: connection)
            for ((subscription, reply), failure) in zip(batch, failures) {
                if let failure {
                    reply.resume(throwing: failure.publicError)
                } else {
                    subscriptions[subscription.tag] = subscription
                    subscriptionOrder.append(subscription.tag)
                    reply.resume(returning: subscription.tag)
                }
            }
        }
    }

    /// Declares, binds and consumes the queues of several subscriptions in one round trip: every
    /// declaration and binding is pipelined (nowait) on the admin channel and one synchronous method
    /// ends the batch, which the broker answers only after everything before it on that channel
    /// succeeded. The queues exist then, so the consumes follow without waiting for their consume-ok.
    /// A connect storm subscribes thousands of users, and round trips are what bound it (two per
    /// subscription, one at a time, before). If anything in the batch was refused, the broker closed
    /// the channel there and ignored the rest: each subscription is established again on its own
    /// (`establish(_:on:)`), which tells which one failed and why. Returns each one's failure (nil:
    /// consumed); the failures were handled (`handle`) already.
    private func establish(batch: [AMQPConsumer.Subscription], on connection: AMQPConnection) -> [AMQPFailure?] {
        guard batch.count > 1 else { return batch.map { attemptAlone($0) } }
        do {
            for (index, subscription) in batch.enumerated() {
                try declareAndBind(subscription, on: connection, waitAtEnd: index == batch.count - 1)
            }
            for subscription in batch { try startConsuming(subscription, on: connection, wait: false) }
            return batch.map { _ in nil }
        } catch .channelClosed(Self.adminChannel, _, _) {
            do {
                try connection.openChannel(Self.adminChannel)
            } catch {
                handle(error)
                return batch.map { _ in error }
            }
            return batch.map { attemptAlone($0) }
        } catch {
            handle(error)
            return batch.map { _ in error }
        }
    }

    /// One subscription by itself; its failure, handled.
    private func attemptAlone(_ subscription: AMQPConsumer.Subscription) -> AMQPFailure? {
        guard let connection else { return .library("not connected to the broker") }
        do {
            try establish(subscription, on: connection)
            return nil
        } catch {
            handle(error)
            return error
        }
    }

    /// Declares and binds a queue; `waitAtEnd` makes the last method synchronous (its reply, or the
    /// channel.close a refusal before it caused), the rest are pipelined.
    private func declareAndBind(_ subscription: AMQPConsumer.Subscription, on connection: AMQPConnection,
                                waitAtEnd: Bool) throws(AMQPFailure) {
        let arguments = AMQPTable()
        if let expires = subscription.arguments.expiresMs { arguments.set("x-expires", int64: Int64(expires)) }
        if let ttl = subscription.arguments.messageTTLMs { arguments.set("x-message-ttl", int64: Int64(ttl)) }
        let queue = subscription.queue
        try connection.declareQueueNoWait(Self.adminChannel, name: queue, durable: subscription.arguments.durable,
                                          autoDelete: subscription.arguments.autoDelete, arguments: arguments)
        for binding in subscription.bindings.dropLast(waitAtEnd ? 1 : 0) {
            try connection.bindQueueNoWait(Self.adminChannel, queue: queue, exchange: binding.exchange,
                                           routingKey: binding.routingKey)
        }
        guard waitAtEnd else { return }
        if let last = subscription.bindings.last {
            try connection.bindQueue(Self.adminChannel, queue: queue, exchange: last.exchange, routingKey: last.routingKey)
        } else {
            try connection.declareQueuePassive(Self.adminChannel, name: queue)
        }
    }

    /// Declares, binds and consumes one subscription's queue, in two round trips rather than one per
    /// method (`declareAndBind`): if a method failed, the channel.close it caused is the reply the
    /// last one waits for, so the error belongs to this queue.
    private func establish(_ subscription: AMQPConsumer.Subscription, on connection: AMQPConnection) throws(AMQPFailure) {
        let queue = subscription.queue
        do {
            try declareAndBind(subscription, on: connection, waitAtEnd: true)
        } catch .channelClosed(_, 406, let text) {
            // PRECONDITION_FAILED from the declaration: the queue exists with other arguments. Use it
            // as it is, one method at a time.
            try connection.openChannel(Self.adminChannel)
            try connection.declareQueuePassive(Self.adminChannel, name: queue)
            logger.warning("amqp queue exists with other arguments, using it as is",
                           metadata: ["amqp.queue": "\(queue)", "error": "\(text)"])
            for binding in subscription.bindings {
                try connection.bindQueue(Self.adminChannel, queue: queue, exchange: binding.exchange,
                                         routingKey: binding.routingKey)
            }
        }
        try startConsuming(subscription, on: connection, wait: true)
    }

    /// basic.consume on the next consume channel (opened on first use). Without `wait` a refusal
    /// closes that channel, which ends the connection (`handle`): the consumer reconnects and
    /// subscribes everything again. Only a queue deleted since it was declared is refused.
    private func startConsuming(_ subscription: AMQPConsumer.Subscription, on connection: AMQPConnection,
                                wait: Bool) throws(AMQPFailure) {
        let channel = consumeChannels[nextChannel % consumeChannels.count]
        if !openedChannels.contains(channel) {
            try connection.openChannel(channel)
            // global=false: the prefetch applies to each consumer on the channel.
            try connection.basicQos(channel, prefetchCount: context.options.prefetch)
            openedChannels.insert(channel)
        }
        if wait {
            try connection.consume(channel, queue: subscription.queue, consumerTag: subscription.tag.rawValue)
        } else {
            try connection.consumeNoWait(channel, queue: subscription.queue, consumerTag: subscription.tag.rawValue)
        }
        nextChannel += 1
        channelOf[subscription.tag] = channel
    }

    // MARK: Connection

    private func connect() {
        let connection: AMQPConnection
        do {
            connection = try AMQPConnection(context.settings)
            try connection.openChannel(Self.adminChannel)
        } catch {
            scheduleReconnect(reason: error.summary)
            return
        }
        self.connection = connection
        generation += 1
        ledgers = [:]
        channelOf = [:]
        openedChannels = []
        nextChannel = 0
        let known = subscriptionOrder.compactMap { subscriptions[$0] }
        for start in stride(from: 0, to: known.count, by: Self.maxBatch) {
            guard let current = self.connection else { return } // the connection failed: reconnect later, keep all
            let batch = Array(known[start..<min(start + Self.maxBatch, known.count)])
            let failures = establish(batch: batch, on: current)
            if self.connection == nil { return }
            for (subscription, failure) in zip(batch, failures) {
                guard let failure else { continue }
                let tag = subscription.tag
                subscriptions[tag] = nil
                subscriptionOrder.removeAll { $0 == tag }
                logger.error("amqp resubscribe failed", metadata: ["amqp.queue": "\(subscription.queue)",
                                                                    "error": "\(failure.summary)"])
                context.onEvent(.subscriptionLost(tag, reason: failure.summary))
            }
        }
        backoff.reset()
        outage.recovered(logger: logger)
        logger.info("amqp consumer connected", metadata: ["amqp.subscriptions": "\(subscriptions.count)"])
        report(.connected)
    }

    private func scheduleReconnect(reason: String) {
        let delay = backoff.next()
        nextAttempt = ContinuousClock.now + delay
        outage.failed(reason: reason, retryIn: delay, logger: logger)
        report(.disconnected(reason: reason))
    }

    /// A failed channel 2 is reopened; anything else ends the connection (consumers live on the others).
    private func handle(_ failure: AMQPFailure) {
        if case .channelClosed(let channel, _, _) = failure, channel == Self.adminChannel, let connection {
            do {
                try connection.openChannel(Self.adminChannel)
                return
            } catch {
                dropConnection(reason: error.summary)
                return
            }
        }
        dropConnection(reason: failure.summary)
    }

    private func dropConnection(reason: String) {
        guard let connection else { return }
        if connection.isOpen { connection.abandon() }
        self.connection = nil
        scheduleReconnect(reason: reason)
    }

    private func report(_ state: AMQPConnectionState) {
        guard state != lastReportedState else { return }
        lastReportedState = state
        context.setState(state)
        context.onEvent(.stateChanged(state))
    }

    // MARK: Incoming frames

    /// Handles what has arrived, up to `deliveriesPerTurn` deliveries; true when it stopped early.
    private func readIncoming() -> Bool {
        guard let connection else { return false }
        var handled = 0
        defer { connection.releaseBuffers() }
        do {
            while handled < context.options.deliveriesPerTurn, let event = try connection.nextEvent() {
                switch event {
                case .delivery(let delivery):
                    handled += 1
                    deliver(delivery, on: connection)
                case .consumerCancelled(let rawTag):
                    let tag = ConsumerTag(rawValue: rawTag)
                    if let subscription = subscriptions.removeValue(forKey: tag) {
                        subscriptionOrder.removeAll { $0 == tag }
                        channelOf[tag] = nil
                        logger.warning("amqp consumer cancelled by broker", metadata: ["amqp.queue": "\(subscription.queue)"])
                        context.onEvent(.subscriptionLost(tag, reason: "cancelled by the broker"))
                    }
                case .channelClosed(let channel, let code, let text):
                    handle(.channelClosed(channel: channel, code: code, text: text))
                    return false
                case .connectionClosed(let code, let text):
                    handle(.connectionClosed(code: code, text: text))
                    return false
                case .blocked, .confirm, .ignored:
                    break
                }
            }
        } catch {
            handle(error)
            return false
        }
        return handled >= context.options.deliveriesPerTurn
    }

    private func deliver(_ delivery: AMQPIncoming.Delivery, on connection: AMQPConnection) {
        let tag = ConsumerTag(rawValue: delivery.consumerTag)
        guard subscriptions[tag] != nil else {
            // In flight when its subscription was cancelled: hand it back to the queue.
            do {
                try connection.reject(delivery.channel, deliveryTag: delivery.deliveryTag, requeue: true)
            } catch {
                handle(error)
            }
            return
        }
        ledgers[delivery.channel, default: DeliveryLedger()].handedOut(delivery.deliveryTag)
        context.onDelivery(AMQPDelivery(consumerTag: tag,
                                        deliveryTag: DeliveryTag(connection: generation, channel: delivery.channel,
                                                                 value: delivery.deliveryTag),
                                        exchange: delivery.exchange, routingKey: delivery.routingKey,
                                        body: delivery.body, redelivered: delivery.redelivered))
    }

    static func fail(_ command: AMQPConsumer.Command, with error: AMQPError) {
        switch command {
        case .subscribe(_, let continuation): continuation.resume(throwing: error)
        case .cancel(_, _, let continuation): continuation.resume(throwing: error)
        case .declareExchange(_, _, _, let continuation): continuation.resume(throwing: error)
        case .stop(let continuation): continuation?.resume()
        case .ack, .reject: break
        }
    }
}

/// A mutex-protected value that closures can capture (a `Mutex` itself cannot be).
final class LockedBox<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}
