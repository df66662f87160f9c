import Foundation
import Testing
import TestSupport

/// `make run` is the first thing a newcomer types: run its script end to end, as they would, on free ports
/// and a run folder of its own, then follow the README's tour from a "second terminal" with `.run/env`.
@Suite("make run")
struct RunScriptTests {
    @Test("the run script starts everything, its env file makes the README tour work, and SIGINT stops all it started")
    func runScriptEndToEnd() async throws {
        let root = try #require(RepositoryRoot.find())
        let directory = try TemporaryDirectory("run-script")
        defer { directory.remove() }
        let runDir = directory.path("run")
        let port = try freeTCPPort(), simPort = try freeTCPPort()
        // As from a terminal: SIGINT at its default, whatever this test process inherited (a shell that starts
        // a job in the background makes it ignored, and an ignored signal cannot be trapped by bash).
        let script = try ServiceProcess("/usr/bin/env", ["--default-signal=INT,TERM", "/bin/bash",
                                                         root.appendingPathComponent("scripts/run.sh").path],
                                        environment: ["CHATD_RUN_DIR": runDir, "PORT": "\(port)",
                                                      "CHAT3_SIM_PORT": "\(simPort)",
                                                      "CHATD_BIN_DIR": ChatBinaries.directory.path],
                                        logURL: directory.url.appendingPathComponent("run.log"))
        // Generous: on a loaded CI machine the broker check, two starts and three chatctl runs take long.
        let token = try await script.waitForLine("demo token: +([A-Za-z0-9._-]+)", timeoutSeconds: 240)
        let pids = try String(contentsOfFile: "\(runDir)/run.pids", encoding: .utf8)
            .split(separator: "\n").compactMap { Int32($0) }
        #expect(pids.count == 2, "chat3-sim and chatd")

        let me = try await HTTPTestClient.json("GET", "http://127.0.0.1:\(port)/api/auth/me", token: token)
        #expect(me.status == 200, "\(me.text)")
        #expect(me.text.contains("79990000001"), "the demo user: \(me.text)")

        // The second terminal: a clean shell that knows only what `. .run/env` gives it.
        let tour = """
        set -e
        . '\(runDir)/env'
        test "$TOKEN" = '\(token)'
        curl -fsS "$CHATD_URL/api/auth/me" -H "Authorization: Bearer $TOKEN" >/dev/null
        echo '--- user list'; chatctl user list
        echo '--- token inspect'; chatctl token inspect "$TOKEN"
        echo '--- daemon status'; chatctl daemon status
        """
        let shell = try await runCommand("/usr/bin/env", ["-i", "PATH=/usr/bin:/bin", "HOME=\(directory.url.path)",
                                                          "/bin/bash", "-c", tour], timeoutSeconds: 60)
        #expect(shell.status == 0, "\(shell.stdout)\n\(shell.stderr)")
        #expect(shell.stdout.contains("79990000001"), "user list shows the demo user: \(shell.stdout)")
        #expect(!FileManager.default.fileExists(atPath: "/var/lib/chatd/chatd.sqlite") || shell.stdout.contains("Demo User"),
                "chatctl read the run folder's store")
        let envMode = try FileManager.default.attributesOfItem(atPath: "\(runDir)/env")[.posixPermissions] as? Int
        #expect(envMode == 0o600, "the env file holds a token: mode \(String(envMode ?? 0, radix: 8))")

        let status = await script.stop(signal: SIGINT, graceSeconds: 30)
        #expect(status == 0 || status == 130, "run script exit status \(status)\n\(script.log)")
        #expect(script.log.contains("stopped"))
        for pid in pids { #expect(kill(pid, 0) != 0, "process \(pid) it started is gone") }
        let health = try? await HTTPTestClient.send("GET", "http://127.0.0.1:\(port)/health", timeoutSeconds: 2)
        #expect(health == nil, "nothing answers on chatd's port after the stop")
        #expect(!FileManager.default.fileExists(atPath: "\(runDir)/run.pids"))
    }
}
