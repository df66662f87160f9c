import Logging

/// Holds one exclusive, auto-delete queue on its own connection for as long as it runs: a lock on the
/// broker. The broker gives an exclusive queue to one connection; another connection declaring it is
/// refused with 405 RESOURCE_LOCKED, and the queue (so the lock) goes away when its connection does,
/// also when the holder crashes.
///
/// The connection lives on a dedicated thread (librabbitmq blocks). While the broker is unreachable,
/// or after the connection drops, the thread retries with capped, jittered backoff and declares again.
/// Refused once, it stops trying: the caller decides what to do (chatd exits).
public final class AMQPExclusiveQueue: Sendable {
    public enum Event: Sendable, Hashable {
        /// This connection holds the queue.
        case held
        /// Another connection holds the queue (405); the thread has stopped trying.
        case heldElsewhere(text: String)
        /// The broker could not be reached or the connection dropped; retrying.
        case unreachable(reason: String)
    }

    public struct Options: Sendable {
        public var connectionName: String
        public var heartbeat: Duration
        public var reconnectDelay: Duration
        public var maxReconnectDelay: Duration
        public var connectTimeout: Duration
        public var rpcTimeout: Duration

        public init(connectionName: String = "chatd instance lock", heartbeat: Duration = .seconds(30),
                    reconnectDelay: Duration = .milliseconds(200), maxReconnectDelay: Duration = .seconds(5),
                    connectTimeout: Duration = .seconds(2), rpcTimeout: Duration = .seconds(10)) {
            self.connectionName = connectionName
            self.heartbeat = heartbeat
            self.reconnectDelay = reconnectDelay
            self.maxReconnectDelay = maxReconnectDelay
            self.connectTimeout = connectTimeout
            self.rpcTimeout = rpcTimeout
        }
    }

    enum Command: Sendable {
        case stop(CheckedContinuation<Void, Never>?)
    }

    private let worker = AMQPWorker<Command>()
    private let started = LockedBox(false)
    private let settings: AMQPConnection.Settings
    private let queue: String
    private let options: Options
    private let logger: Logger
    private let onEvent: @Sendable (Event) -> Void

    /// `onEvent` is called on the lock's thread: keep it cheap.
    public init(url: AMQPURL, queue: String, options: Options = Options(), logger: Logger,
                onEvent: @escaping @Sendable (Event) -> Void) {
        self.settings = AMQPConnection.Settings(url: url, connectionName: options.connectionName,
                                                heartbeatSeconds: Int(options.heartbeat.components.seconds),
                                                connectTimeout: options.connectTimeout, rpcTimeout: options.rpcTimeout)
        self.queue = queue
        self.options = options
        var logger = logger
        logger[metadataKey: "amqp.url"] = "\(url)"
        self.logger = logger
        self.onEvent = onEvent
    }

    deinit { worker.send(.stop(nil)) }

    /// Starts the thread, which connects and declares at once. Calling it again does nothing.
    public func start() {
        let first = started.withLock { started in
            defer { started = true }
            return !started
        }
        guard first else { return }
        let context = Context(worker: worker, settings: settings, queue: queue, options: options,
                              logger: logger, onEvent: onEvent)
        worker.startThread(name: "amqp-lock") { context.run() }
    }

    /// Closes the connection (the broker deletes the queue) and ends the thread.
    public func stop() async {
        let wasStarted = started.withLock { started in
            defer { started = true }
            return started
        }
        guard wasStarted else { _ = worker.closeQueue(); return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !worker.send(.stop(continuation)) { continuation.resume() }
        }
    }

    private struct Context: Sendable {
        let worker: AMQPWorker<Command>
        let settings: AMQPConnection.Settings
        let queue: String
        let options: Options
        let logger: Logger
        let onEvent: @Sendable (Event) -> Void

        func run() {
            var backoff = Backoff(initial: options.reconnectDelay, maximum: options.maxReconnectDelay)
            var outage = OutageLog(what: "amqp instance lock", connection: options.connectionName)
            while true {
                var connection: AMQPConnection?
                do {
                    let open = try AMQPConnection(settings)
                    connection = open
                    try open.openChannel(1)
                    try open.declareQueue(1, name: queue, durable: false, autoDelete: true, exclusive: true,
                                          arguments: AMQPTable())
                    outage.recovered(logger: logger)
                    backoff.reset()
                    onEvent(.held)
                    if let stop = try hold(open) { finish(open, stop); return }
                } catch {
                    if case .locked(let text) = error.publicError {
                        connection?.close()
                        onEvent(.heldElsewhere(text: text))
                        waitForStop()
                        return
                    }
                    connection?.abandon()
                    let delay = backoff.next()
                    outage.failed(reason: error.summary, retryIn: delay, logger: logger)
                    onEvent(.unreachable(reason: error.summary))
                    if let stop = sleep(delay) { finish(nil, stop); return }
                }
            }
        }

        /// Keeps the connection alive (heartbeats) until it fails (throws) or `stop` arrives (returned).
        private func hold(_ connection: AMQPConnection) throws(AMQPFailure) -> Stop? {
            while true {
                if let stop = pendingStop() { return stop }
                while let event = try connection.nextEvent() {
                    switch event {
                    case .connectionClosed(let code, let text): throw .connectionClosed(code: code, text: text)
                    case .channelClosed(let channel, let code, let text):
                        throw .channelClosed(channel: channel, code: code, text: text)
                    default: continue
                    }
                }
                if connection.hasBufferedInput { continue }
                worker.wait(socket: connection.socketDescriptor, timeout: .seconds(1))
            }
        }

        struct Stop { let continuation: CheckedContinuation<Void, Never>? }

        private func pendingStop() -> Stop? {
            for command in worker.drain() {
                if case .stop(let continuation) = command { return Stop(continuation: continuation) }
            }
            return nil
        }

        private func sleep(_ delay: Duration) -> Stop? {
            let until = ContinuousClock.now + delay
            while ContinuousClock.now < until {
                if let stop = pendingStop() { return stop }
                worker.wait(socket: nil, timeout: until - ContinuousClock.now)
            }
            return pendingStop()
        }

        private func waitForStop() {
            while true {
                if let stop = pendingStop() { finish(nil, stop); return }
                worker.wait(socket: nil, timeout: .seconds(60))
            }
        }

        private func finish(_ connection: AMQPConnection?, _ stop: Stop) {
            connection?.close()
            for case .stop(let other) in worker.closeQueue() { other?.resume() }
            stop.continuation?.resume()
        }
    }
}
