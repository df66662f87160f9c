import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Publishes JSON messages to RabbitMQ from any task.
///
/// One connection, owned by a dedicated thread (librabbitmq is blocking and not thread-safe). Callers
/// enqueue commands; the thread writes every queued publish in one turn, so concurrent publishers are
/// batched. With `waitForConfirms` (the default) the channel is in confirm mode and `publish` returns
/// once the broker has taken responsibility for the message; otherwise it returns once the message
/// is written to the socket.
///
/// Broker loss is noticed by the thread (heartbeats, closed socket, connection.close); in-flight
/// publishes fail with `.connectionLost`, and the next call reconnects. Nothing is retried silently.
public final class AMQPPublisher: Sendable {
    public struct Options: Sendable {
        public var connectionName: String
        public var heartbeat: Duration
        public var connectTimeout: Duration
        public var rpcTimeout: Duration
        public var waitForConfirms: Bool

        public init(connectionName: String = "chatd publisher", heartbeat: Duration = .seconds(30),
                    connectTimeout: Duration = .seconds(2), rpcTimeout: Duration = .seconds(10),
                    waitForConfirms: Bool = true) {
            self.connectionName = connectionName
            self.heartbeat = heartbeat
            self.connectTimeout = connectTimeout
            self.rpcTimeout = rpcTimeout
            self.waitForConfirms = waitForConfirms
        }
    }

    enum Command: Sendable {
        case publish(Publish)
        case declareExchange(name: String, type: String, durable: Bool, CheckedContinuation<Void, any Error>)
        case close(CheckedContinuation<Void, Never>?)
    }

    struct Publish: Sendable {
        var exchange: String
        var routingKey: String
        var body: [UInt8]
        var headers: [String: String]
        var persistent: Bool
        var continuation: CheckedContinuation<Void, any Error>
    }

    private let worker = AMQPWorker<Command>()

    public init(url: AMQPURL, options: Options = Options(), logger: Logger) {
        let worker = self.worker
        let settings = AMQPConnection.Settings(url: url, connectionName: options.connectionName,
                                               heartbeatSeconds: Int(options.heartbeat.components.seconds),
                                               connectTimeout: options.connectTimeout, rpcTimeout: options.rpcTimeout)
        var logger = logger
        logger[metadataKey: "amqp.url"] = "\(url)"
        let threadLogger = logger
        worker.startThread(name: "amqp-publisher") {
            PublisherLoop(worker: worker, settings: settings, waitForConfirms: options.waitForConfirms,
                          logger: threadLogger).run()
        }
    }

    /// Parses `url` (see `AMQPURL`) and creates the publisher.
    public convenience init(url: String, options: Options = Options(), logger: Logger) throws(AMQPURLError) {
        self.init(url: try AMQPURL(url), options: options, logger: logger)
    }

    deinit {
        // Lets the thread finish if the owner forgot `close()`; in-flight publishes still complete.
        worker.send(.close(nil))
    }

    /// Declares an exchange (idempotent when it exists with the same type and durability).
    public func declareExchange(_ name: String, type: String = "topic", durable: Bool = true) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            if !worker.send(.declareExchange(name: name, type: type, durable: durable, continuation)) {
                continuation.resume(throwing: AMQPError.closed)
            }
        }
    }

    /// Publishes `body` with content type application/json and the current time as timestamp.
    /// `persistent` sets delivery mode 2 (survives a broker restart in a durable queue).
    public func publish(exchange: String, routingKey: String, body: [UInt8],
                        headers: [String: String] = [:], persistent: Bool = true) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let publish = Publish(exchange: exchange, routingKey: routingKey, body: body, headers: headers,
                                  persistent: persistent, continuation: continuation)
            if !worker.send(.publish(publish)) {
                continuation.resume(throwing: AMQPError.closed)
            }
        }
    }

    /// Waits (briefly) for outstanding confirms, closes the connection and ends the thread.
    /// Later calls fail with `.closed`.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !worker.send(.close(continuation)) { continuation.resume() }
        }
    }
}

/// The publisher's thread: owns the connection, executes commands, tracks confirms.
private final class PublisherLoop {
    private static let publishChannel: UInt16 = 1
    private static let adminChannel: UInt16 = 2
    private static let closeGrace: Duration = .seconds(2)

    private let worker: AMQPWorker<AMQPPublisher.Command>
    private let settings: AMQPConnection.Settings
    private let waitForConfirms: Bool
    private let logger: Logger

    private var connection: AMQPConnection?
    private var publishChannelOpen = false
    private var adminChannelOpen = false
    private var connectFailure: AMQPError?
    private var nextSequence: UInt64 = 1
    /// Publishes awaiting a broker confirm, in sequence order.
    private var unconfirmed: [(sequence: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    private var unconfirmedStart = 0

    init(worker: AMQPWorker<AMQPPublisher.Command>, settings: AMQPConnection.Settings, waitForConfirms: Bool,
         logger: Logger) {
        self.worker = worker
        self.settings = settings
        self.waitForConfirms = waitForConfirms
        self.logger = logger
    }

    func run() {
        var closeWaiters: [CheckedContinuation<Void, Never>] = []
        var closing = false
        while !closing {
            connectFailure = nil // one connection attempt per turn, shared by the turn's commands
            for command in worker.drain() {
                if closing { fail(command, with: .closed); continue }
                switch command {
                case .publish(let publish):
                    execute(publish)
                case .declareExchange(let name, let type, let durable, let continuation):
                    continuation.resume(with: declareExchange(name, type: type, durable: durable))
                case .close(let continuation):
                    closing = true
                    if let continuation { closeWaiters.append(continuation) }
                }
            }
            readIncoming()
            if closing { break }
            if let connection, connection.hasBufferedInput { continue }
            worker.wait(socket: connection?.socketDescriptor, timeout: connection == nil ? .seconds(3600) : .seconds(1))
        }
        for command in worker.closeQueue() {
            if case .close(let continuation) = command { continuation?.resume() } else { fail(command, with: .closed) }
        }
        finishConfirms()
        connection?.close()
        dropConnection(reason: .closed)
        logger.debug("amqp publisher closed")
        for waiter in closeWaiters { waiter.resume() }
    }

    private func execute(_ publish: AMQPPublisher.Publish) {
        let connection: AMQPConnection
        do {
            connection = try ensurePublishChannel()
        } catch {
            publish.continuation.resume(throwing: error)
            return
        }
        do {
            try connection.publish(Self.publishChannel, exchange: publish.exchange, routingKey: publish.routingKey,
                                   body: publish.body, headers: AMQPTable(strings: publish.headers),
                                   persistent: publish.persistent, timestamp: UInt64(time(nil)))
        } catch {
            publish.continuation.resume(throwing: error.publicError)
            dropConnection(reason: error.publicError)
            return
        }
        if waitForConfirms {
            unconfirmed.append((nextSequence, publish.continuation))
            nextSequence += 1
        } else {
            publish.continuation.resume()
        }
    }

    private func declareExchange(_ name: String, type: String, durable: Bool) -> Result<Void, any Error> {
        do {
            let connection = try ensureConnection()
            if !adminChannelOpen {
                try connection.openChannel(Self.adminChannel)
                adminChannelOpen = true
            }
            try connection.declareExchange(Self.adminChannel, name: name, type: type, durable: durable)
            return .success(())
        } catch let failure as AMQPFailure {
            handle(failure)
            return .failure(failure.publicError)
        } catch {
            return .failure(error)
        }
    }

    // MARK: Connection

    private func ensureConnection() throws(AMQPError) -> AMQPConnection {
        if let connection, connection.isOpen { return connection }
        if connection != nil { dropConnection(reason: .connectionLost(underlying: "connection closed")) }
        if let connectFailure { throw connectFailure }
        do {
            let connection = try AMQPConnection(settings)
            self.connection = connection
            logger.info("amqp publisher connected")
            return connection
        } catch {
            let failure = AMQPError.unavailable(underlying: error.summary)
            connectFailure = failure
            logger.warning("amqp publisher cannot connect", metadata: ["error": "\(error.summary)"])
            throw failure
        }
    }

    private func ensurePublishChannel() throws(AMQPError) -> AMQPConnection {
        let connection = try ensureConnection()
        if publishChannelOpen { return connection }
        do {
            try connection.openChannel(Self.publishChannel)
            if waitForConfirms { try connection.confirmSelect(Self.publishChannel) }
        } catch {
            handle(error)
            throw error.publicError
        }
        publishChannelOpen = true
        nextSequence = 1
        return connection
    }

    /// Reacts to a failure: a closed channel is reopened on next use, anything else ends the connection.
    private func handle(_ failure: AMQPFailure) {
        switch failure {
        case .channelClosed(let channel, _, _):
            logger.warning("amqp publisher channel closed by broker", metadata: ["error": "\(failure.summary)"])
            if channel == Self.publishChannel {
                publishChannelOpen = false
                failUnconfirmed(with: failure.publicError)
            } else {
                adminChannelOpen = false
            }
        case .library, .connectionClosed:
            dropConnection(reason: failure.publicError)
        }
    }

    private func dropConnection(reason: AMQPError) {
        failUnconfirmed(with: reason)
        guard let connection else { return }
        if connection.isOpen { connection.abandon() }
        self.connection = nil
        publishChannelOpen = false
        adminChannelOpen = false
        if reason != .closed {
            logger.warning("amqp publisher disconnected", metadata: ["error": "\(reason)"])
        }
    }

    // MARK: Incoming frames

    private func readIncoming() {
        guard let connection else { return }
        do {
            while let event = try connection.nextEvent() {
                switch event {
                case .confirm(let tag, let multiple, let ok):
                    confirm(upTo: tag, multiple: multiple, ok: ok)
                case .channelClosed(let channel, let code, let text):
                    handle(.channelClosed(channel: channel, code: code, text: text))
                case .connectionClosed(let code, let text):
                    handle(.connectionClosed(code: code, text: text))
                    return
                case .blocked(let blocked):
                    logger.warning(blocked ? "amqp publisher blocked by broker" : "amqp publisher unblocked")
                case .delivery, .consumerCancelled, .ignored:
                    break
                }
            }
            connection.releaseBuffers()
        } catch {
            handle(error)
        }
    }

    private func confirm(upTo tag: UInt64, multiple: Bool, ok: Bool) {
        let result: Result<Void, any Error> = ok ? .success(()) : .failure(AMQPError.nacked)
        if multiple {
            while unconfirmedStart < unconfirmed.count, unconfirmed[unconfirmedStart].sequence <= tag {
                unconfirmed[unconfirmedStart].continuation.resume(with: result)
                unconfirmedStart += 1
            }
        } else if let index = unconfirmed[unconfirmedStart...].firstIndex(where: { $0.sequence == tag }) {
            unconfirmed[index].continuation.resume(with: result)
            if index == unconfirmedStart {
                unconfirmedStart += 1
            } else {
                unconfirmed.remove(at: index)
            }
        }
        compactUnconfirmed()
    }

    private func compactUnconfirmed() {
        if unconfirmedStart == unconfirmed.count {
            unconfirmed.removeAll(keepingCapacity: true)
            unconfirmedStart = 0
        } else if unconfirmedStart > 1024 && unconfirmedStart * 2 > unconfirmed.count {
            unconfirmed.removeFirst(unconfirmedStart)
            unconfirmedStart = 0
        }
    }

    private func failUnconfirmed(with error: AMQPError) {
        for index in unconfirmedStart..<unconfirmed.count { unconfirmed[index].continuation.resume(throwing: error) }
        unconfirmed.removeAll()
        unconfirmedStart = 0
    }

    /// On close: gives the broker a moment to confirm what was already published.
    private func finishConfirms() {
        let deadline = ContinuousClock.now + Self.closeGrace
        while unconfirmedStart < unconfirmed.count, connection != nil, ContinuousClock.now < deadline {
            worker.wait(socket: connection?.socketDescriptor, timeout: .milliseconds(50))
            readIncoming()
        }
    }

    private func fail(_ command: AMQPPublisher.Command, with error: AMQPError) {
        switch command {
        case .publish(let publish): publish.continuation.resume(throwing: error)
        case .declareExchange(_, _, _, let continuation): continuation.resume(throwing: error)
        case .close(let continuation): continuation?.resume()
        }
    }
}
