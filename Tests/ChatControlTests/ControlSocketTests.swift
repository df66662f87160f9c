import ChatControl
import ChatCore
import Foundation
import Testing
import TestSupport

/// chatd's control socket and `chatctl daemon`, against the real binaries.
@Suite("control socket", .serialized)
struct ControlSocketTests {
    @Test("status answers with this chatd's pid, a growing uptime, its config digest and live socket numbers")
    func statusIsLive() async throws {
        let fixture = try await ControlFixture.start()
        defer { Task { await fixture.stop() } }
        let first = try await fixture.client.status()
        #expect(first.pid == fixture.chatd.service.pid)
        #expect(first.version == "0.1.0")
        #expect(first.connections == 0 && first.usersOnline == 0)
        #expect(first.store == .up)
        #expect(first.configDigest.count == 12)

        let (userId, token) = try await fixture.userWithToken(phone: "79001234501")
        let socket = try ScriptedSocketClient(url: fixture.chatd.baseURL, token: token, transports: "websocket")
        defer { Task { await socket.stop() } }
        try await socket.waitFor { $0["connected"]?.boolValue == true }

        let second = try await fixture.client.status()
        #expect(second.connections == 1)
        #expect(second.usersOnline == 1)
        #expect(second.uptimeSeconds > first.uptimeSeconds)
        let listed = try await fixture.chatctl(["daemon", "connections", "--json"])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(try JSONValue.parse(listed.stdout).arrayValue?.first?["userId"]?.stringValue == userId)
        let text = try await fixture.chatctl(["daemon", "status"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("connections:   1"), "\(text.stdout)")
    }

    @Test("kick disconnects every socket of the user and only theirs")
    func kick() async throws {
        let fixture = try await ControlFixture.start()
        defer { Task { await fixture.stop() } }
        let (ann, annToken) = try await fixture.userWithToken(phone: "79001234502")
        let (_, bobToken) = try await fixture.userWithToken(phone: "79001234503")
        let annSocket = try ScriptedSocketClient(url: fixture.chatd.baseURL, token: annToken, transports: "websocket")
        let bobSocket = try ScriptedSocketClient(url: fixture.chatd.baseURL, token: bobToken, transports: "websocket")
        defer { Task { await annSocket.stop(); await bobSocket.stop() } }
        try await annSocket.waitFor { $0["connected"]?.boolValue == true }
        try await bobSocket.waitFor { $0["connected"]?.boolValue == true }

        let kicked = try await fixture.chatctl(["daemon", "kick", ann, "--json"])
        #expect(kicked.status == 0, "\(kicked.stderr)")
        #expect(try JSONValue.parse(kicked.stdout)["sockets"]?.intValue == 1)
        try await annSocket.waitFor { $0["disconnected"]?.boolValue == true }
        let status = try await fixture.client.status()
        #expect(status.connections == 1)
        #expect(!bobSocket.received.contains { $0["disconnected"]?.boolValue == true })
    }

    @Test("drain closes existing sockets and refuses new Engine.IO sessions")
    func drain() async throws {
        let fixture = try await ControlFixture.start()
        defer { Task { await fixture.stop() } }
        let (_, token) = try await fixture.userWithToken(phone: "79001234504")
        let socket = try ScriptedSocketClient(url: fixture.chatd.baseURL, token: token, transports: "websocket")
        defer { Task { await socket.stop() } }
        try await socket.waitFor { $0["connected"]?.boolValue == true }
        let handshakeURL = "\(fixture.chatd.baseURL)/socket.io/?EIO=4&transport=polling"
        #expect(try await HTTPTestClient.send("GET", handshakeURL).status == 200)

        let drained = try await fixture.chatctl(["daemon", "drain", "--json"])
        #expect(drained.status == 0, "\(drained.stderr)")
        #expect(try JSONValue.parse(drained.stdout)["closed"]?.intValue == 1)
        try await socket.waitFor { $0["disconnected"]?.boolValue == true }
        #expect(try await HTTPTestClient.send("GET", handshakeURL).status == 503)
        let status = try await fixture.client.status()
        #expect(status.draining)
        #expect(status.connections == 0)
    }

    @Test("log-level takes effect at once: debug lines appear after it and stop after reload restores the file's level")
    func logLevelAndReload() async throws {
        let directory = try TemporaryDirectory("chatd-config")
        defer { directory.remove() }
        let configPath = directory.path("chatd.toml")
        try "[log]\nlevel = \"info\"\n".write(toFile: configPath, atomically: true, encoding: .utf8)
        let fixture = try await ControlFixture.start(["CHATD_CONFIG": configPath])
        defer { Task { await fixture.stop() } }

        _ = try await fixture.client.status()
        #expect(!fixture.chatd.service.log.contains("control request"))
        let changed = try await fixture.chatctl(["daemon", "log-level", "debug"])
        #expect(changed.status == 0, "\(changed.stderr)")
        #expect(changed.stdout.contains("log level debug (was info)"))
        _ = try await fixture.client.status()
        _ = try await fixture.chatd.service.waitForLine("debug chatd: control request.*request.path=/v1/status", timeoutSeconds: 5)
        #expect(try await fixture.client.status().logLevel == .debug)

        // The file now says warning; reload applies it without a restart.
        try "[log]\nlevel = \"warning\"\n".write(toFile: configPath, atomically: true, encoding: .utf8)
        let before = try await fixture.client.status()
        let reloaded = try await fixture.chatctl(["daemon", "reload", "--json"])
        #expect(reloaded.status == 0, "\(reloaded.stderr)")
        let result = try JSONValue.parse(reloaded.stdout)
        #expect(result["logLevel"]?.stringValue == "warning")
        #expect(result["applied"]?.arrayValue?.compactMap(\.stringValue) == ["log.level"])
        let after = try await fixture.client.status()
        #expect(after.logLevel == .warning)
        #expect(after.configDigest != before.configDigest)
        #expect(after.pid == before.pid)

        // SIGHUP reloads the same way.
        try "[log]\nlevel = \"error\"\n".write(toFile: configPath, atomically: true, encoding: .utf8)
        kill(fixture.chatd.service.pid, SIGHUP)
        var level = ControlLogLevel.warning
        for _ in 0..<100 where level != .error {
            try await Task.sleep(for: .milliseconds(50))
            level = try await fixture.client.status().logLevel
        }
        #expect(level == .error)

        // An invalid file is refused with 78 and the running configuration stays.
        try "[log]\nlevel = \"loud\"\n".write(toFile: configPath, atomically: true, encoding: .utf8)
        let refused = try await fixture.chatctl(["daemon", "reload"])
        #expect(refused.status == 78, "\(refused.stderr)")
        #expect(refused.stderr.contains("log.level"))
        #expect(try await fixture.client.status().logLevel == .error)
    }

    @Test("a request with an Origin or Referer header is refused with 403 and changes nothing")
    func originRefused() async throws {
        let fixture = try await ControlFixture.start()
        defer { Task { await fixture.stop() } }
        for header in [("Origin", "http://evil.example"), ("Referer", "http://evil.example/page")] {
            let response = try await fixture.client.send(method: "PUT", path: "/v1/log-level", headers: [header],
                                                         body: Array(#"{"level":"trace"}"#.utf8))
            #expect(response.status == 403)
            #expect(response.text.contains(#""code":"origin_refused""#), "\(response.text)")
        }
        #expect(try await fixture.client.status().logLevel == .info)
    }

    @Test("stop answers, then chatd exits 0 and removes its socket; afterwards chatctl exits 69")
    func stopAndNotRunning() async throws {
        let fixture = try await ControlFixture.start()
        defer { Task { await fixture.stop() } }
        let stopped = try await fixture.chatctl(["daemon", "stop"])
        #expect(stopped.status == 0, "\(stopped.stderr)")
        #expect(await fixture.chatd.service.stop(signal: 0, graceSeconds: 15) == 0)
        #expect(!FileManager.default.fileExists(atPath: fixture.socketPath))
        let status = try await fixture.chatctl(["daemon", "status"])
        #expect(status.status == 69)
        #expect(status.stderr.contains("chatd is not running"))
        #expect(status.stdout.isEmpty)
    }

    @Test("a stale socket file is replaced at start, and a second chatd on a live socket refuses to start with 73")
    func socketFileSafety() async throws {
        let directory = try TemporaryDirectory("chatd-stale")
        defer { directory.remove() }
        // A socket nobody listens on, as a crashed chatd leaves behind.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = directory.path("c.sock")
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        close(fd)

        var env = ControlFixture.environment(directory)
        env["CHATD_CONTROL_SOCKET"] = path
        let chatd = try await ChatdProcess.start(environment: env, logURL: directory.url.appendingPathComponent("1.log"))
        defer { Task { await chatd.service.stop() } }
        _ = try await chatd.service.waitForLine("control socket listening")
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o660)
        #expect(try await ControlClient(socketPath: path).status().pid == chatd.service.pid)

        var second = env
        second["CHATD_STATE_DIR"] = directory.url.appendingPathComponent("second").path
        second["CHATD_STORE"] = "sqlite://\(directory.path("second.sqlite"))"
        let refused = try await runCommand(ChatBinaries.path("chatd"), ["--port", "0", "--host", "127.0.0.1"], environment: second, timeoutSeconds: 30)
        #expect(refused.status == 73)
        #expect(refused.stderr.contains("another chatd is listening"), "\(refused.stderr)")
        #expect(try await ControlClient(socketPath: path).status().pid == chatd.service.pid)
    }
}
