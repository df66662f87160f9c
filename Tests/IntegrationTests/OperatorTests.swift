import ChatCore
import Foundation
import Testing
import TestSupport

/// What an operator expects of the real chatd and chatctl binaries: honest readiness, safe admin
/// commands, documented exit codes, readable logs.
@Suite("Operating chatd")
struct OperatorTests {
    static func environment(_ directory: TemporaryDirectory, chat3: String = "http://127.0.0.1:9/api") -> [String: String] {
        [
            "CHATD_STORE": "sqlite://\(directory.path("users.sqlite"))", "CHATD_STATE_DIR": directory.url.path,
            "CHATD_CONFIG": "/dev/null", "CHATD_CONTROL_SOCKET": directory.path("chatd.sock"),
            "JWT_SECRET": String(repeating: "o", count: 40), "SMS_SENDER": "command", "SMS_COMMAND": "/bin/true",
            "CHAT3_API_URL": chat3,
        ]
    }

    /// Polls `url` until it answers `status` (a dependency may take a moment to answer).
    static func waitForStatus(_ status: Int, _ url: String, timeoutSeconds: Double = 30) async throws -> HTTPResult {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while true {
            let result = try await HTTPTestClient.send("GET", url)
            if result.status == status || Date() > deadline { return result }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    @Test("/ready answers 200 while serving and 503 with status draining once chatctl daemon drain ran; /health stays 200")
    func readinessFollowsDrain() async throws {
        let directory = try TemporaryDirectory("ops-ready")
        defer { directory.remove() }
        let sim = try await Chat3SimProcess.start(logURL: directory.url.appendingPathComponent("sim.log"))
        defer { Task { await sim.service.stop() } }
        var env = Self.environment(directory, chat3: sim.apiURL)
        env["CHAT3_API_KEY"] = sim.apiKey
        let chatd = try await ChatdProcess.start(environment: env, logURL: directory.url.appendingPathComponent("chatd.log"))
        defer { Task { await chatd.service.stop() } }
        let before = try await Self.waitForStatus(200, "\(chatd.baseURL)/ready")
        #expect(before.status == 200, "\(before.text)")
        #expect(try JSONValue.parse(before.text)["status"] == "ready")

        let drained = try await runCommand(ChatBinaries.path("chatctl"), ["daemon", "drain"], environment: env)
        #expect(drained.status == 0, "\(drained.stderr)")
        let after = try await HTTPTestClient.send("GET", "\(chatd.baseURL)/ready")
        #expect(after.status == 503)
        let body = try JSONValue.parse(after.text)
        #expect(body["status"] == "draining", "\(after.text)")
        #expect(body["draining"] == true)
        #expect(try await HTTPTestClient.send("GET", "\(chatd.baseURL)/health").status == 200)
    }
}
