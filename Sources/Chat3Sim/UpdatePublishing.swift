import ChatCore
import Logging

/// One message for the updates exchange, ready to publish.
public struct PublishedUpdate: Sendable {
    public var exchange: String
    public var routingKey: String
    public var headers: [String: String]
    public var body: [UInt8]

    public init(exchange: String, routingKey: String, headers: [String: String], body: [UInt8]) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.headers = headers
        self.body = body
    }

    public var json: JSONValue? { try? JSONValue.parse(body) }
}

/// Where Updates go: RabbitMQ in the executable, memory in tests.
public protocol UpdatePublishing: Sendable {
    /// Declares the exchange; called once before the first publish.
    func prepare(exchange: String) async throws
    func publish(_ update: PublishedUpdate) async throws
    func close() async
}

/// Keeps every published update, for tests.
public actor RecordingUpdatePublisher: UpdatePublishing {
    public private(set) var published: [PublishedUpdate] = []
    public private(set) var declaredExchanges: [String] = []

    public init() {}

    public func prepare(exchange: String) async throws { declaredExchanges.append(exchange) }
    public func publish(_ update: PublishedUpdate) async throws { published.append(update) }
    public func close() async {}
    public func clear() { published.removeAll() }
}

/// Publishes batches of Updates in order, each after the configured delay, off the request path — Chat3's
/// outbox relay and update worker deliver ~1 s after the HTTP response, and the backend must cope with that.
actor UpdateDispatcher {
    struct Record: Sendable {
        var update: PublishedUpdate
        var error: String?
    }

    private struct Batch: Sendable {
        var due: ContinuousClock.Instant
        var updates: [PublishedUpdate]
    }

    private let publisher: any UpdatePublishing
    private let delay: Duration
    private let logger: Logger
    private let maxRecords: Int
    private var stream: AsyncStream<Batch>.Continuation?
    private var worker: Task<Void, Never>?
    private var pending = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private(set) var records: [Record] = []

    init(publisher: any UpdatePublishing, delay: Duration, logger: Logger, maxRecords: Int = 100_000) {
        self.publisher = publisher
        self.delay = delay
        self.logger = logger
        self.maxRecords = maxRecords
    }

    func start() {
        guard worker == nil else { return }
        let (stream, continuation) = AsyncStream<Batch>.makeStream()
        self.stream = continuation
        worker = Task { [publisher] in
            for await batch in stream {
                try? await Task.sleep(until: batch.due, clock: .continuous)
                for update in batch.updates {
                    var failure: String?
                    do {
                        try await publisher.publish(update)
                    } catch {
                        failure = "\(error)"
                    }
                    self.finished(update, error: failure)
                }
                self.batchDone()
            }
        }
    }

    func enqueue(_ updates: [PublishedUpdate]) {
        guard !updates.isEmpty, let stream else { return }
        pending += 1
        stream.yield(Batch(due: .now + delay, updates: updates))
    }

    /// Returns once everything enqueued so far is published.
    func flush() async {
        guard pending > 0 else { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func clearRecords() { records.removeAll() }

    func stop() async {
        stream?.finish()
        await worker?.value
        worker = nil
        stream = nil
    }

    private func finished(_ update: PublishedUpdate, error: String?) {
        if let error {
            logger.warning("update publish failed", metadata: ["amqp.routing_key": "\(update.routingKey)",
                                                               "error": "\(error)"])
        }
        if records.count >= maxRecords { records.removeFirst(records.count / 2) }
        records.append(Record(update: update, error: error))
    }

    private func batchDone() {
        pending -= 1
        if pending == 0 {
            let ready = waiters
            waiters.removeAll()
            for waiter in ready { waiter.resume() }
        }
    }
}
