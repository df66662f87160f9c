import Chat3Client
import Chat3Sim
import ChatCore
import Foundation
import Logging

/// chat3-sim in-process on a real loopback port, so the client goes through libcurl and TCP.
final class LiveSimulator: Sendable {
    static let key = "chat3_client_test_key"

    let sim: Chat3Simulator
    let port: Int
    private let task: Task<Void, any Error>

    private init(sim: Chat3Simulator, port: Int, task: Task<Void, any Error>) {
        self.sim = sim
        self.port = port
        self.task = task
    }

    static func start(port: Int = 0) async throws -> LiveSimulator {
        let sim = Chat3Simulator(
            configuration: Chat3SimConfiguration(host: "127.0.0.1", port: port, apiKey: key, publishDelay: .zero),
            publisher: RecordingUpdatePublisher(), logger: Logger(label: "sim", factory: { _ in SwiftLogNoOpLogHandler() }))
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let task = Task { try await sim.run(handleSignals: false) { continuation.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        guard let bound = await iterator.next() else { throw SimulatorStartError() }
        return LiveSimulator(sim: sim, port: bound, task: task)
    }

    struct SimulatorStartError: Error {}

    var baseURL: String { "http://127.0.0.1:\(port)/api" }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }

    /// Calls a test hook (or any route) directly, without HTTP.
    @discardableResult
    func hook(_ method: String, _ target: String, _ json: JSONValue? = nil) async -> SimResponse {
        await sim.handle(SimRequest(method, target, apiKey: Self.key, json: json))
    }

    /// Requests the emulator has seen, hooks left out: `[(method, path, query)]`.
    func seen() async -> [(method: String, path: String, query: String)] {
        let log = await hook("GET", "/_sim/requests").json?["data"]?.arrayValue ?? []
        return log.compactMap { entry in
            guard let method = entry["method"]?.stringValue, let path = entry["path"]?.stringValue,
                  !path.hasPrefix("/_sim") else { return nil }
            return (method, path, entry["query"]?.stringValue ?? "")
        }
    }

    func client(key: String? = LiveSimulator.key, requestTimeout: Double = 5, threshold: Int = 3,
                cooldown: Duration = .milliseconds(300), baseURL: String? = nil, maxConnections: Int = 64) -> Chat3Client {
        Chat3Client(configuration: Chat3ClientConfiguration(
            baseURL: baseURL ?? self.baseURL, apiKey: key, tenant: "tnt_default", connectTimeout: 1,
            requestTimeout: requestTimeout, breakerThreshold: threshold, breakerCooldown: cooldown,
            maxConnections: maxConnections),
            logger: Logger(label: "chat3", factory: { _ in SwiftLogNoOpLogHandler() }))
    }
}

extension UserID {
    static func make(_ tail: String) -> UserID { UserID(rawValue: "usr_" + tail)! }
}
