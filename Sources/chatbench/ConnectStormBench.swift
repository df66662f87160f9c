import ArgumentParser
import Foundation

/// `chatbench connect-storm`: connect one Socket.IO client per token as fast as possible; optionally
/// hold them idle and read chatd's resident memory per idle connection. `--transport polling` does the
/// same with long-polling sessions, each keeping one GET pending as an idle browser tab does.
struct ConnectStormBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect-storm",
        abstract: "Connect all clients as fast as possible; optionally hold them idle and measure chatd's RSS.")

    @Option(help: "chatd base URL, http://host:port.") var chatd: String
    @Option(help: "Engine.IO transport of the clients: websocket or polling.") var transport: Transport = .websocket
    @Option(help: "File with one JWT per line (one client each).") var tokens: String
    @Option(help: "Use only the first N tokens.") var clients: Int?
    @Option(help: "Handshakes in flight at once.") var concurrency: Int = 1000
    @Option(help: "Seconds allowed for all clients to connect.") var timeout: Double = 120
    @Option(help: "Seconds to keep the clients connected and idle before measuring and exiting.") var hold: Double = 0
    @Option(name: .customLong("chatd-pid"), help: "chatd's process id: reports VmRSS before and after.")
    var chatdPID: Int32?
    @Option(help: "Wait until chatd's /metrics shows this many update subscriptions (default: the client count when --chatd-pid is set; 0 to skip).")
    var expectSubscriptions: Int?

    enum Transport: String, ExpressibleByArgument, Encodable {
        case websocket, polling
    }

    struct Parameters: Encodable {
        var chatd: String
        var transport: Transport
        var clients: Int
        var concurrency: Int
        var holdSeconds: Double
    }

    /// chatd's memory before the first client and after the idle hold; "per connection" is
    /// (after − before) / clients still connected.
    struct Memory: Encodable {
        var chatdPid: Int32
        var rssBeforeKiB: Int?
        var rssAfterKiB: Int?
        /// VmRSS growth per connection.
        var bytesPerConnection: Int?
        /// smaps_rollup Anonymous: heap and stacks, without the file-backed code pages.
        var anonymousBeforeKiB: Int?
        var anonymousAfterKiB: Int?
        var anonymousBytesPerConnection: Int?
        /// smaps_rollup Private_Dirty: pages only chatd has written.
        var privateDirtyBeforeKiB: Int?
        var privateDirtyAfterKiB: Int?
        var privateDirtyBytesPerConnection: Int?

        init(pid: Int32, before: [String: Int], rssBefore: Int?, connections: Int) {
            chatdPid = pid
            let after = smapsRollupKiB(pid: pid)
            func perConnection(_ before: Int?, _ after: Int?) -> Int? {
                guard let before, let after, connections > 0 else { return nil }
                return (after - before) * 1024 / connections
            }
            rssBeforeKiB = rssBefore
            rssAfterKiB = residentKiB(pid: pid)
            bytesPerConnection = perConnection(rssBeforeKiB, rssAfterKiB)
            anonymousBeforeKiB = before["Anonymous"]
            anonymousAfterKiB = after["Anonymous"]
            anonymousBytesPerConnection = perConnection(anonymousBeforeKiB, anonymousAfterKiB)
            privateDirtyBeforeKiB = before["Private_Dirty"]
            privateDirtyAfterKiB = after["Private_Dirty"]
            privateDirtyBytesPerConnection = perConnection(privateDirtyBeforeKiB, privateDirtyAfterKiB)
        }
    }

    struct Output: Encodable {
        var benchmark = "connect-storm"
        var parameters: Parameters
        var connect: ConnectReport
        /// Seconds from the first handshake until chatd reported a subscription per client.
        var subscriptionsReadySeconds: Double?
        var subscriptionsSeen: Int?
        var stillConnectedAfterHold: Int
        var memory: Memory?
    }

    func validate() throws {
        guard concurrency > 0, timeout > 0, hold >= 0 else { throw ValidationError("limits must be positive") }
    }

    func run() async throws {
        let users = try TokenFile.load(tokens, limit: clients)
        let fleet: any ClientFleet = switch transport {
        case .websocket: try SocketFleet(chatd: chatd)
        case .polling: try PollingFleet(chatd: chatd)
        }
        let rssBefore = chatdPID.flatMap(residentKiB(pid:))
        let smapsBefore = chatdPID.map(smapsRollupKiB(pid:)) ?? [:]
        Progress.say("connect-storm: \(users.count) \(transport.rawValue) clients to \(fleet.endpoint)")
        let start = monotonicNanoseconds()
        let seconds = await fleet.connectAll(users, concurrency: concurrency, timeout: timeout)
        let state = fleet.snapshot()
        let connect = ConnectReport(clients: users.count, state: state, seconds: seconds)
        Progress.say("connect-storm: \(state.connected) connected, \(state.failed) failed in \(connect.allConnectedSeconds) s")

        var subscriptionsReady: Double?
        var subscriptionsSeen: Int?
        let wanted = expectSubscriptions ?? (chatdPID != nil ? state.connected : 0)
        if wanted > 0 {
            let deadline = start + UInt64(timeout * 1e9)
            while monotonicNanoseconds() < deadline {
                subscriptionsSeen = await MetricsProbe.gauge("chatd_amqp_subscriptions", chatd: chatd)
                if let seen = subscriptionsSeen, seen >= wanted {
                    subscriptionsReady = rounded(Double(monotonicNanoseconds() - start) / 1e9, places: 3)
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            Progress.say("connect-storm: subscriptions \(subscriptionsSeen.map(String.init) ?? "unknown")/\(wanted)")
        }
        if hold > 0 {
            Progress.say("connect-storm: holding for \(hold) s")
            try await Task.sleep(for: .seconds(hold))
        }
        let after = fleet.snapshot()
        let stillConnected = after.connected - after.closedAfterConnect
        let memory = chatdPID.map {
            Memory(pid: $0, before: smapsBefore, rssBefore: rssBefore, connections: stillConnected)
        }
        if let memory {
            Progress.say("connect-storm: \(stillConnected) idle \(transport.rawValue) connections: \(memory.bytesPerConnection.map(String.init) ?? "?") B RSS, \(memory.anonymousBytesPerConnection.map(String.init) ?? "?") B anonymous, \(memory.privateDirtyBytesPerConnection.map(String.init) ?? "?") B private dirty each")
        }
        let output = Output(
            parameters: Parameters(chatd: chatd, transport: transport, clients: users.count, concurrency: concurrency, holdSeconds: hold),
            connect: connect, subscriptionsReadySeconds: subscriptionsReady, subscriptionsSeen: subscriptionsSeen,
            stillConnectedAfterHold: stillConnected, memory: memory)
        try ResultPrinter.print(output)
        endProcess()
    }
}
