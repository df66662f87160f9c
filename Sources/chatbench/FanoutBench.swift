import ArgumentParser
import ChatAMQP

/// `chatbench fanout`: N Socket.IO clients on chatd; updates published into RabbitMQ at a fixed rate;
/// publish→client latency of every `message:new`.
struct FanoutBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout",
        abstract: "Connect one Socket.IO client per token, publish updates at a rate, measure publish→client latency.")

    @Option(help: "chatd base URL, http://host:port.") var chatd: String
    @Option(help: "File with one JWT per line (one client each).") var tokens: String
    @Option(help: "Use only the first N tokens.") var clients: Int?
    @Option(name: .customLong("amqp-url"), help: "RabbitMQ URL.") var amqpURL: String = "amqp://guest:guest@127.0.0.1:5672/"
    @Option(help: "Topic exchange Chat3 publishes to.") var exchange: String = "chat3_updates"
    @Option(help: "Tenant id in the payloads (chatd drops other tenants).") var tenant: String = "tnt_default"
    @Option(help: "Updates per second in total (0: as fast as the broker confirms — the peak delivery rate).")
    var rate: Double = 2000
    @Option(help: "Seconds of publishing (count = rate × duration unless --count).") var duration: Double = 30
    @Option(help: "Number of updates (required with --rate 0).") var count: Int?
    @Option(help: "Unconfirmed publishes allowed at once (in total over all publishers).") var maxInFlight: Int = 2000
    @OptionGroup var publishing: PublisherOptions
    @Option(help: "Handshakes in flight while connecting.") var connectConcurrency: Int = 500
    @Option(help: "Seconds allowed for all clients to connect.") var connectTimeout: Double = 120
    @Flag(inversion: .prefixedNo, help: "Wait for chatd's /metrics to show a subscription per client before publishing.")
    var waitForSubscriptions = true
    @Option(help: "After publishing, give up once no update has arrived for this many seconds.") var drain: Double = 10

    struct Parameters: Encodable {
        var chatd: String
        var clients: Int
        var exchange: String
        var rate: Double
        var durationSeconds: Double?
        var count: Int
        var maxInFlight: Int
        var connectConcurrency: Int
        var waitForSubscriptions: Bool
    }

    struct Output: Encodable {
        var benchmark = "fanout"
        var parameters: Parameters
        var connect: ConnectReport
        /// Seconds from the first handshake until chatd reported a subscription per connected client.
        var subscriptionsReadySeconds: Double?
        var publish: PublishStats
        var expected: Int
        var delivered: Int
        /// Not delivered by the time deliveries stopped for `--drain` seconds.
        var lost: Int
        /// Seconds from the last publish until the last delivery.
        var drainSeconds: Double
        var duplicates: Int
        var otherEvents: Int
        /// `message:new` from an earlier run, still queued for these users.
        var staleEvents: Int
        /// Clients whose connection ended during the run (chatd closed it, or a missed ping).
        var closedDuringRun: Int
        /// Delivered updates per second, from the first publish to the last delivery.
        var deliveredPerSecond: Double
        var latency: LatencySummary
    }

    func validate() throws {
        guard rate >= 0, duration > 0 else { throw ValidationError("--rate must not be negative, --duration must be positive") }
        if rate == 0 && count == nil { throw ValidationError("--rate 0 needs --count") }
        guard maxInFlight > 0, connectConcurrency > 0 else { throw ValidationError("limits must be positive") }
    }

    func run() async throws {
        let users = try TokenFile.load(tokens, limit: clients)
        let factory = UpdateFactory(tenantId: tenant)
        let fleet = try SocketFleet(chatd: chatd, runId: factory.runId)
        let total = count ?? Int(rate * duration)
        fleet.expect(updates: total)
        let logger = benchLogger("chatbench.amqp")
        let publishers = try PublisherPool(url: amqpURL, options: publishing, logger: logger)
        try await publishers.declareExchange(exchange)

        Progress.say("fanout: connecting \(users.count) clients to \(fleet.endpoint)")
        let connectSeconds = await fleet.connectAll(users, concurrency: connectConcurrency, timeout: connectTimeout)
        let connected = fleet.snapshot()
        let connect = ConnectReport(clients: users.count, state: connected, seconds: connectSeconds)
        Progress.say("fanout: \(connected.connected) connected, \(connected.failed) failed in \(connect.allConnectedSeconds) s")
        guard connected.connected > 0 else {
            throw BenchError.failed("no client connected: \(connected.failureReasons)")
        }
        // chatd may accept CONNECT before the user's queue is bound; an update published in that gap is
        // unroutable. Publishing starts once /metrics shows a subscription per connected client.
        var subscriptionsReady: Double?
        if waitForSubscriptions {
            let start = monotonicNanoseconds()
            while monotonicNanoseconds() - start < UInt64(connectTimeout * 1e9) {
                if let seen = await MetricsProbe.gauge("chatd_amqp_subscriptions", chatd: chatd), seen >= connected.connected {
                    subscriptionsReady = rounded(connectSeconds + Double(monotonicNanoseconds() - start) / 1e9, places: 3)
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            Progress.say("fanout: subscriptions ready after \(subscriptionsReady.map { "\($0) s" } ?? "timeout")")
        }
        // Updates go only to users whose client connected, so `lost` measures delivery alone.
        let targets = connected.connectedUsers

        Progress.say("fanout: publishing \(total) updates at \(rate == 0 ? "max" : "\(rate)/s") over \(publishing.publishers) publisher(s), \(publishing.confirms ? "confirmed" : "unconfirmed")")
        let stats = await UpdateBurst.publish(count: total, rate: rate, maxInFlight: maxInFlight, userIds: targets,
                                              factory: factory, exchange: exchange, pool: publishers)
        Progress.say("fanout: published \(stats.published), failed \(stats.failed); draining")
        // Late is not lost: wait while deliveries still arrive, and give up only after `drain` seconds
        // without any.
        var lastCount = -1
        var lastProgress = monotonicNanoseconds()
        while true {
            let delivered = fleet.snapshot().delivered
            if delivered >= stats.published { break }
            let now = monotonicNanoseconds()
            if delivered != lastCount {
                lastCount = delivered
                lastProgress = now
            } else if now - lastProgress >= UInt64(drain * 1e9) {
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        await publishers.close()
        let result = fleet.snapshot()
        let publishEnd = stats.startedAt + UInt64(stats.issueSeconds * 1e9)
        let span = Double(max(result.lastDeliveryAt, stats.startedAt) - stats.startedAt) / 1e9
        let output = Output(
            parameters: Parameters(chatd: chatd, clients: users.count, exchange: exchange, rate: rate,
                                   durationSeconds: count == nil ? duration : nil, count: total,
                                   maxInFlight: maxInFlight, connectConcurrency: connectConcurrency,
                                   waitForSubscriptions: waitForSubscriptions),
            connect: connect, subscriptionsReadySeconds: subscriptionsReady, publish: stats, expected: stats.published, delivered: result.delivered,
            lost: max(0, stats.published - result.delivered),
            drainSeconds: rounded(Double(max(result.lastDeliveryAt, publishEnd) - publishEnd) / 1e9, places: 3),
            duplicates: result.duplicates,
            otherEvents: result.otherEvents, staleEvents: result.staleEvents,
            closedDuringRun: result.closedAfterConnect,
            deliveredPerSecond: span > 0 ? rounded(Double(result.delivered) / span, places: 1) : 0,
            latency: LatencySummary(nanoseconds: result.latencies))
        Progress.say("fanout: delivered \(output.delivered)/\(output.expected), p99 \(output.latency.p99Ms) ms")
        try ResultPrinter.print(output)
        endProcess()
    }
}

/// How connecting went.
struct ConnectReport: Encodable {
    var clients: Int
    var connected: Int
    var failed: Int
    var failureReasons: [String: Int]
    /// Seconds from the first handshake to the last successful CONNECT (or the timeout).
    var allConnectedSeconds: Double
    var connectLatency: LatencySummary

    init(clients: Int, state: SocketFleet.State, seconds: Double) {
        self.clients = clients
        connected = state.connected
        failed = state.failed
        failureReasons = state.failureReasons
        allConnectedSeconds = rounded(seconds, places: 3)
        connectLatency = LatencySummary(nanoseconds: state.connectLatencies)
    }
}
