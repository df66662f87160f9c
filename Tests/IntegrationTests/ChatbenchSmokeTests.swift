import Foundation
import Testing
import TestSupport

/// chatbench's HTTP load generator against a small real server (chat3-sim): one JSON object with the
/// parameters, counts and latency percentiles. A shape check, not a benchmark.
@Suite("chatbench smoke")
struct ChatbenchSmokeTests {
    func startSimulator(_ directory: TemporaryDirectory) async throws -> (ServiceProcess, Int) {
        let sim = try ServiceProcess(ChatBinaries.path("chat3-sim"), ["--port", "0", "--api-key", "smoke-key"],
                                     environment: [:], logURL: directory.url.appendingPathComponent("sim.log"))
        let port = try await sim.waitForLine("listening on [^ ]+:([0-9]+)")
        return (sim, Int(port)!)
    }

    func runHTTP(port: Int, apiKey: String) async throws -> [String: Any] {
        let result = try await runCommand(ChatBinaries.path("chatbench"), [
            "http", "--url", "http://127.0.0.1:\(port)/api/users/usr_smoke/dialogs", "--header", "X-API-Key: \(apiKey)",
            "--connections", "2", "--duration", "1", "--warmup", "0", "--threads", "1",
        ], timeoutSeconds: 30)
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return try #require(object, "stdout is not one JSON object: \(result.stdout)")
    }

    @Test("chatbench http prints one JSON object with the rate, status counts and latency percentiles")
    func httpShape() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (sim, port) = try await startSimulator(directory)
        defer { Task { await sim.stop() } }

        let json = try await runHTTP(port: port, apiKey: "smoke-key")
        #expect(json["benchmark"] as? String == "http")
        let requests = try #require(json["requests"] as? Int)
        #expect(requests > 0)
        #expect((json["requestsPerSecond"] as? Double ?? 0) > 0)
        #expect(json["status2xx"] as? Int == requests)
        #expect(json["non2xx"] as? Int == 0)
        #expect(json["errors"] as? Int == 0)
        let latency = try #require(json["latency"] as? [String: Any])
        for key in ["p50Ms", "p90Ms", "p99Ms", "maxMs"] {
            #expect((latency[key] as? Double ?? -1) > 0, "latency.\(key)")
        }
        #expect(latency["samples"] as? Int == requests)
        let parameters = try #require(json["parameters"] as? [String: Any])
        #expect(parameters["connections"] as? Int == 2)
        #expect(parameters["headerNames"] as? [String] == ["X-API-Key"])
        await sim.stop()
    }

    @Test("chatbench http counts refused requests as non-2xx, not as successes")
    func httpCountsRefusals() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (sim, port) = try await startSimulator(directory)
        defer { Task { await sim.stop() } }

        let json = try await runHTTP(port: port, apiKey: "wrong-key")
        let requests = try #require(json["requests"] as? Int)
        #expect(requests > 0)
        #expect(json["status2xx"] as? Int == 0)
        #expect(json["non2xx"] as? Int == requests)
        let statusCounts = try #require(json["statusCounts"] as? [String: Int])
        #expect(statusCounts.keys.allSatisfy { !$0.hasPrefix("2") })
        await sim.stop()
    }
}
