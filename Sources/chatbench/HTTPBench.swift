import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// `chatbench http`: a closed-loop HTTP/1.1 keep-alive load generator. Each connection sends its next
/// request as soon as the previous response has ended, so the rate is what the server sustains at that
/// concurrency.
struct HTTPBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http", abstract: "Closed-loop HTTP/1.1 keep-alive load: C connections, back-to-back GETs.")

    @Option(help: "Target URL, http://host:port/path?query.") var url: String
    @Option(name: .customLong("header"), help: "Extra request header 'Name: value' (repeatable).")
    var headers: [String] = []
    @Option(help: "Concurrent keep-alive connections.") var connections: Int = 64
    @Option(help: "Measured seconds.") var duration: Double = 10
    @Option(help: "Seconds of load before measuring starts.") var warmup: Double = 1
    @Option(help: "Event-loop threads (default: one per core).") var threads: Int = System.coreCount

    struct Parameters: Encodable {
        var url: String
        var headerNames: [String]
        var connections: Int
        var durationSeconds: Double
        var warmupSeconds: Double
        var threads: Int
    }

    struct Output: Encodable {
        var benchmark = "http"
        var parameters: Parameters
        var requests: Int
        var requestsPerSecond: Double
        var status2xx: Int
        var non2xx: Int
        var errors: Int
        var reconnects: Int
        var latency: LatencySummary
        var statusCounts: [String: Int]
    }

    func validate() throws {
        guard connections > 0 else { throw ValidationError("--connections must be positive") }
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative") }
        guard threads > 0 else { throw ValidationError("--threads must be positive") }
        _ = try HTTPTarget(url)
        for header in headers where !header.contains(":") { throw ValidationError("--header '\(header)' is not 'Name: value'") }
    }

    func run() async throws {
        let target = try HTTPTarget(url)
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.path)
        head.headers.add(name: "Host", value: target.hostHeader)
        head.headers.add(name: "User-Agent", value: "chatbench")
        for header in headers {
            let parts = header.split(separator: ":", maxSplits: 1)
            head.headers.add(name: parts[0].trimmingCharacters(in: .whitespaces),
                             value: parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
        }
        let requestHead = head
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let start = NIODeadline.now()
        let measureFrom = start + .nanoseconds(Int64(warmup * 1e9))
        let deadline = measureFrom + .nanoseconds(Int64(duration * 1e9))
        Progress.say("http: \(connections) connections to \(target.host):\(target.port)\(target.path) for \(warmup)+\(duration) s")
        let totals = await withTaskGroup(of: LoadStats.self) { tasks in
            for _ in 0..<connections {
                tasks.addTask {
                    await HTTPLoadConnection.run(group: group, target: target, head: requestHead,
                                                 measureFrom: measureFrom, deadline: deadline)
                }
            }
            var totals = LoadStats()
            for await stats in tasks { totals.merge(stats) }
            return totals
        }
        try? await group.shutdownGracefully()
        let requests = totals.latencies.count
        let statusCounts = Dictionary(uniqueKeysWithValues: totals.statusCounts.map { ("\($0.key)", $0.value) })
        let ok = totals.statusCounts.filter { (200..<300).contains($0.key) }.map(\.value).reduce(0, +)
        let output = Output(
            parameters: Parameters(url: url, headerNames: head.headers.map(\.name).filter { $0 != "Host" && $0 != "User-Agent" },
                                   connections: connections, durationSeconds: duration, warmupSeconds: warmup,
                                   threads: threads),
            requests: requests, requestsPerSecond: rounded(Double(requests) / duration, places: 1),
            status2xx: ok, non2xx: requests - ok, errors: totals.errors, reconnects: totals.reconnects,
            latency: LatencySummary(nanoseconds: totals.latencies), statusCounts: statusCounts)
        Progress.say("http: \(output.requestsPerSecond) req/s, p99 \(output.latency.p99Ms) ms, non-2xx \(output.non2xx), errors \(output.errors)")
        try ResultPrinter.print(output)
    }
}

/// Where to send requests.
struct HTTPTarget: Sendable {
    var host: String
    var port: Int
    var path: String
    var hostHeader: String

    init(_ text: String) throws {
        guard let components = URLComponents(string: text), components.scheme == "http",
              let host = components.host, !host.isEmpty else {
            throw ValidationError("'\(text)' is not an http:// URL (https is not supported)")
        }
        self.host = host
        port = components.port ?? 80
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        self.path = components.percentEncodedQuery.map { "\(path)?\($0)" } ?? path
        hostHeader = components.port.map { "\(host):\($0)" } ?? host
    }
}

/// What one connection (or all of them) measured. Latencies only for requests sent after the warm-up.
struct LoadStats: Sendable {
    var latencies: [UInt64] = []
    var statusCounts: [UInt: Int] = [:]
    var errors = 0
    var reconnects = 0

    mutating func merge(_ other: LoadStats) {
        latencies.append(contentsOf: other.latencies)
        statusCounts.merge(other.statusCounts, uniquingKeysWith: +)
        errors += other.errors
        reconnects += other.reconnects
    }
}

/// One closed-loop client: connects, runs until the deadline, reconnects if the server closes early.
enum HTTPLoadConnection {
    static func run(group: MultiThreadedEventLoopGroup, target: HTTPTarget, head: HTTPRequestHead,
                    measureFrom: NIODeadline, deadline: NIODeadline) async -> LoadStats {
        var total = LoadStats()
        var attempts = 0
        while NIODeadline.now() < deadline {
            if attempts > 0 { total.reconnects += 1 }
            attempts += 1
            let loop = group.next()
            let done = loop.makePromise(of: LoadStats.self)
            do {
                _ = try await ClientBootstrap(group: loop)
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHTTPClientHandlers()
                            try channel.pipeline.syncOperations.addHandler(
                                HTTPLoadHandler(head: head, measureFrom: measureFrom, deadline: deadline, done: done))
                        }
                    }
                    .connect(host: target.host, port: target.port).get()
                total.merge(try await done.futureResult.get())
            } catch {
                done.fail(error)
                total.errors += 1
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        return total
    }
}

/// Sends a request, waits for the whole response, records it, sends the next.
final class HTTPLoadHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let head: HTTPRequestHead
    private let measureFrom: NIODeadline
    private let deadline: NIODeadline
    private let done: EventLoopPromise<LoadStats>
    private var stats = LoadStats()
    private var sentAt = NIODeadline.now()
    private var status: UInt = 0
    private var inFlight = false

    init(head: HTTPRequestHead, measureFrom: NIODeadline, deadline: NIODeadline, done: EventLoopPromise<LoadStats>) {
        self.head = head
        self.measureFrom = measureFrom
        self.deadline = deadline
        self.done = done
    }

    func channelActive(context: ChannelHandlerContext) {
        send(context)
    }

    private func send(_ context: ChannelHandlerContext) {
        inFlight = true
        sentAt = .now()
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let response):
            status = response.status.code
        case .body:
            break
        case .end:
            inFlight = false
            let now = NIODeadline.now()
            if sentAt >= measureFrom && now <= deadline {
                stats.latencies.append(UInt64(max(0, (now - sentAt).nanoseconds)))
                stats.statusCounts[status, default: 0] += 1
            }
            if now < deadline {
                send(context)
            } else {
                context.close(promise: nil)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        stats.errors += 1
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        // A response cut short by the server closing counts as an error; the caller reconnects.
        if inFlight && NIODeadline.now() < deadline { stats.errors += 1 }
        done.succeed(stats)
    }
}
