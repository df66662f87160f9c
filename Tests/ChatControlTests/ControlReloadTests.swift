import ChatControl
import ChatCore
import Foundation
import Testing
import TestSupport

/// Reload (control socket and SIGHUP) applies CORS origins and login limits to a running chatd.
@Suite("control reload", .serialized)
struct ControlReloadTests {
    static func config(origin: String, ipHourlyLimit: Int, codeLength: Int = 4) -> String {
        """
        [server]
        cors_origins = "\(origin)"

        [auth]
        ip_hourly_limit = \(ipHourlyLimit)
        code_length = \(codeLength)
        """
    }

    /// The `Access-Control-Allow-Origin` chatd answers a request from `origin` with (nil: refused).
    static func allowedOrigin(_ fixture: ControlFixture, _ origin: String) async throws -> String? {
        let response = try await HTTPTestClient.send("GET", "\(fixture.chatd.baseURL)/health", headers: ["Origin": origin])
        #expect(response.status == 200)
        return response.header("Access-Control-Allow-Origin")
    }

    static func requestCode(_ fixture: ControlFixture, phone: String) async throws -> Int {
        try await HTTPTestClient.json("POST", "\(fixture.chatd.baseURL)/api/auth/request-code",
                                      ["phone": .string(phone), "name": "Reload"]).status
    }

    @Test("reload swaps the CORS origins and the per-address login limit without a restart; code length waits for one")
    func corsAndLimitsApplyLive() async throws {
        let directory = try TemporaryDirectory("chatd-reload")
        defer { directory.remove() }
        let configPath = directory.path("chatd.toml")
        let old = "http://old.example", new = "https://new.example"
        // Counts a limit's hits, which start again at the hour.
        try await HourWindow.awaitRoom(seconds: 120)
        try Self.config(origin: old, ipHourlyLimit: 100).write(toFile: configPath, atomically: true, encoding: .utf8)
        let fixture = try await ControlFixture.start(["CHATD_CONFIG": configPath])
        defer { Task { await fixture.stop() } }
        let pid = try await fixture.client.status().pid

        #expect(try await Self.allowedOrigin(fixture, old) == old)
        #expect(try await Self.allowedOrigin(fixture, new) == nil)
        // Three codes from this address are within the starting limit of 100.
        for index in 1...3 {
            #expect(try await Self.requestCode(fixture, phone: "7900555000\(index)") == 200)
        }

        try Self.config(origin: new, ipHourlyLimit: 3, codeLength: 6).write(toFile: configPath, atomically: true, encoding: .utf8)
        let reloaded = try await fixture.chatctl(["daemon", "reload", "--json"])
        #expect(reloaded.status == 0, "\(reloaded.stderr)")
        let result = try JSONValue.parse(reloaded.stdout)
        #expect(result["applied"]?.arrayValue?.compactMap(\.stringValue) == ["auth.ip_hourly_limit", "server.cors_origins"])
        #expect(result["restartRequired"]?.arrayValue?.compactMap(\.stringValue) == ["auth.code_length"])

        #expect(try await Self.allowedOrigin(fixture, new) == new)
        #expect(try await Self.allowedOrigin(fixture, old) == nil)
        let preflight = try await HTTPTestClient.send("OPTIONS", "\(fixture.chatd.baseURL)/api/dialogs", headers: [
            "Origin": new, "Access-Control-Request-Method": "POST"])
        #expect(preflight.header("Access-Control-Allow-Origin") == new)
        // The fourth request from this address is over the new limit of 3 (the old one allowed 100).
        #expect(try await Self.requestCode(fixture, phone: "79005550004") == 429)
        #expect(try await fixture.client.status().pid == pid)
    }

    @Test("SIGHUP applies a changed CORS origin like reload does")
    func sighupAppliesCORS() async throws {
        let directory = try TemporaryDirectory("chatd-hup")
        defer { directory.remove() }
        let configPath = directory.path("chatd.toml")
        try Self.config(origin: "http://one.example", ipHourlyLimit: 100).write(toFile: configPath, atomically: true, encoding: .utf8)
        let fixture = try await ControlFixture.start(["CHATD_CONFIG": configPath])
        defer { Task { await fixture.stop() } }
        let digest = try await fixture.client.status().configDigest
        #expect(try await Self.allowedOrigin(fixture, "http://two.example") == nil)

        try Self.config(origin: "http://two.example", ipHourlyLimit: 100).write(toFile: configPath, atomically: true, encoding: .utf8)
        kill(fixture.chatd.service.pid, SIGHUP)
        _ = try await fixture.chatd.service.waitForLine("configuration reloaded.*config.applied=server.cors_origins", timeoutSeconds: 10)
        #expect(try await fixture.client.status().configDigest != digest)
        #expect(try await Self.allowedOrigin(fixture, "http://two.example") == "http://two.example")
        #expect(try await Self.allowedOrigin(fixture, "http://one.example") == nil)
    }
}
