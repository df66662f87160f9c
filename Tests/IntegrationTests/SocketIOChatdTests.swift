import ChatCore
import Foundation
import Testing
import TestSupport

/// The real chatd binary with the real python-socketio client (tools/testclients/sio_scenario.py). Join,
/// typing and presence need Chat3 to say who is a member; they are covered in-process with a membership
/// double (ChatDaemonTests `RealTimeTests`). Here Chat3 is unreachable, so joins are refused.
@Suite("Socket.IO on the chatd binary", .serialized)
struct SocketIOChatdTests {
    struct Fixture {
        let directory: TemporaryDirectory
        let environment: [String: String]
        let chatd: ChatdProcess
        let userId: String
        let token: String

        static func start() async throws -> Fixture {
            let directory = try TemporaryDirectory("socketio")
            let environment = [
                "CHATD_STORE": "sqlite://\(directory.path("t.sqlite"))",
                "CHATD_STATE_DIR": directory.url.path,
                "CHATD_CONFIG": "/dev/null",
                "CHATD_CONTROL_SOCKET": directory.path("chatd.sock"),
                "JWT_SECRET": String(repeating: "k", count: 40),
                "SMS_SENDER": "command",
                "SMS_COMMAND": "echo \"$SMS_PHONE $SMS_CODE\" >> '\(directory.path("codes"))'",
                // Nothing listens on the discard port: membership cannot be checked, deterministically.
                "CHAT3_API_URL": "http://127.0.0.1:9/api",
            ]
            let created = try await runCommand(ChatBinaries.path("chatctl"),
                                               ["user", "create", "--create-store", "--phone", "79005550101", "--name", "Ann", "--json"],
                                               environment: environment)
            guard created.status == 0, let userId = try JSONValue.parse(created.stdout)["userId"]?.stringValue else {
                throw FixtureError.setUp("chatctl user create: \(created.stderr)")
            }
            let minted = try await runCommand(ChatBinaries.path("chatctl"), ["token", "mint", "--user", userId],
                                              environment: environment)
            let token = minted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            guard minted.status == 0, !token.isEmpty else { throw FixtureError.setUp("chatctl token mint: \(minted.stderr)") }
            let chatd = try await ChatdProcess.start(environment: environment,
                                                     logURL: directory.url.appendingPathComponent("chatd.log"))
            return Fixture(directory: directory, environment: environment, chatd: chatd, userId: userId, token: token)
        }

        func scenario(_ arguments: [String], log name: String) throws -> ServiceProcess {
            let root = RepositoryRoot.find()!
            return try ServiceProcess(root.appendingPathComponent(".venv/bin/python3").path,
                                      ["-u", root.appendingPathComponent("tools/testclients/sio_scenario.py").path]
                                          + arguments + ["--url", chatd.baseURL, "--token-a", token],
                                      environment: [:], logURL: directory.url.appendingPathComponent(name))
        }

        func stop() async -> Int32 {
            let status = await chatd.service.stop()
            directory.remove()
            return status
        }
    }

    enum FixtureError: Error { case setUp(String) }

    @Test("in each transport mode python-socketio connects, is refused with a bad token, gets acks, disconnects and reconnects")
    func transportModes() async throws {
        // One chatd for every mode.
        let fixture = try await Fixture.start()
        for mode in ["default", "websocket", "polling"] {
            let client = try fixture.scenario(["basic", "--mode", mode], log: "\(mode).log")
            _ = try? await client.waitForLine("(SCENARIO OK|FAIL .*)", timeoutSeconds: 60)
            await client.stop()
            let log = client.log
            #expect(log.contains("SCENARIO OK"), "\(mode): \(log)")
            #expect(log.contains(#"bad token refused {"message": "Authentication failed"}"#), "\(mode)")
            // No Chat3 here: the production membership check refuses instead of guessing.
            #expect(log.contains(#"join answered {"code": "chat3_unavailable", "ok": false}"#), "\(mode): \(log)")
            let transport = mode == "polling" ? "polling" : "websocket"
            #expect(log.contains("connected A \(transport)"), "\(mode)")
            // A WebSocket client's disconnect closes its connection, and chatd ends the session with it.
            // (python-engineio's polling disconnect can skip its `close` packet when its writer thread is
            // slow to run, leaving the session to the ping timeout, so polling is not counted here.)
            if transport == "websocket" {
                let metrics = try await MetricsProbe.waitFor("chatd_websocket_connections 0.0", at: fixture.chatd.baseURL)
                #expect(metrics.contains("chatd_websocket_connections 0.0"), "\(mode): \(metrics)")
            }
        }
        #expect(await fixture.stop() == 0)
    }

    @Test("SIGTERM closes every socket at the transport level, so WebSocket clients reconnect, and chatd exits 0")
    func sigtermClosesSockets() async throws {
        let fixture = try await Fixture.start()
        let webSocket = try fixture.scenario(["sigterm", "--mode", "websocket"], log: "ws.log")
        let polling = try fixture.scenario(["sigterm", "--mode", "polling"], log: "polling.log")
        _ = try await webSocket.waitForLine("CONNECTED")
        _ = try await polling.waitForLine("CONNECTED")
        let started = ContinuousClock.now
        #expect(await fixture.chatd.service.stop() == 0)
        #expect(ContinuousClock.now - started < .seconds(5), "a pending long poll held up the shutdown")
        _ = try? await webSocket.waitForLine("(SCENARIO OK|FAIL .*)", timeoutSeconds: 15)
        _ = try? await polling.waitForLine("(SCENARIO OK|FAIL .*)", timeoutSeconds: 15)
        await webSocket.stop()
        await polling.stop()
        #expect(webSocket.log.contains("disconnect reason: transport error"), "\(webSocket.log)")
        #expect(webSocket.log.contains("reconnecting: yes"), "\(webSocket.log)")
        // A polling client learns of the close from an Engine.IO `close` packet. socket.io-client then
        // reconnects ("transport close"); python-socketio treats it as a server disconnect and does not.
        #expect(polling.log.contains("disconnect reason:"), "\(polling.log)")
        #expect(fixture.chatd.service.log.contains("real-time sessions closed socket.count=2"), "\(fixture.chatd.service.log)")
        fixture.directory.remove()
    }
}
