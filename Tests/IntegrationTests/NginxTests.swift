import ChatCore
import Foundation
import Testing
import TestSupport

/// The committed `deploy/nginx.conf` run by Debian's nginx in front of two chatd binaries that share one
/// store and the test RabbitMQ, each with its own instance name, driven by the real python-socketio
/// client (tools/testclients/sio_scenario.py). Chat3 is unreachable here, as in SocketIOChatdTests.
@Suite("deploy/nginx.conf in front of two chatd instances", .serialized)
struct NginxTests {
    struct Cluster {
        let directory: TemporaryDirectory
        let instances: [ChatdProcess]
        let token: String

        var upstreams: Set<String> { Set(instances.map { "127.0.0.1:\($0.port)" }) }

        static func start(configLines: String = "", environment extra: [String: String] = [:]) async throws -> Cluster {
            // Without nginx this suite cannot say anything: fail loudly, never skip.
            guard NginxProcess.executable != nil else { throw NginxError.notInstalled }
            let directory = try TemporaryDirectory("nginx")
            // Several instances on one RabbitMQ: each its own queue per user (`{instance}`), deleted with
            // the last socket so the test leaves nothing in the broker.
            let config = directory.path("chatd.toml")
            try """
                [rabbitmq]
                queue_template = "chatpapp_{instance}_user_{userId}_updates"
                queue_expires = "0"
                \(configLines)
                """.write(toFile: config, atomically: true, encoding: .utf8)
            let shared = [
                "CHATD_STORE": "sqlite://\(directory.path("users.sqlite"))",
                "CHATD_CONFIG": config,
                "JWT_SECRET": String(repeating: "n", count: 40),
                "SMS_SENDER": "command",
                "SMS_COMMAND": "true",
                // Nothing listens on the discard port: membership checks answer chat3_unavailable.
                "CHAT3_API_URL": "http://127.0.0.1:9/api",
            ].merging(extra) { $1 }
            let created = try await runCommand(ChatBinaries.path("chatctl"),
                                               ["user", "create", "--create-store", "--phone", "79005550177", "--name", "Nora", "--json"],
                                               environment: shared)
            guard created.status == 0, let userId = try JSONValue.parse(created.stdout)["userId"]?.stringValue else {
                throw SetUpError("chatctl user create: \(created.stderr)")
            }
            let minted = try await runCommand(ChatBinaries.path("chatctl"), ["token", "mint", "--user", userId],
                                              environment: shared)
            let token = minted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            guard minted.status == 0, !token.isEmpty else { throw SetUpError("chatctl token mint: \(minted.stderr)") }
            let run = UUID().uuidString.prefix(8).lowercased()
            var instances: [ChatdProcess] = []
            for name in ["a", "b"] {
                let state = directory.url.appendingPathComponent("state-\(name)")
                try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
                let environment = shared.merging([
                    "CHATD_INSTANCE": "nginx-test-\(run)-\(name)",
                    "CHATD_STATE_DIR": state.path,
                    "CHATD_CONTROL_SOCKET": directory.path("chatd-\(name).sock"),
                ]) { $1 }
                do {
                    instances.append(try await ChatdProcess.start(environment: environment,
                                                                  logURL: directory.url.appendingPathComponent("chatd-\(name).log")))
                } catch {
                    for instance in instances { await instance.service.stop() }
                    throw error
                }
            }
            return Cluster(directory: directory, instances: instances, token: token)
        }

        /// nginx with the committed example, its upstream pointing at this cluster.
        func nginx(httpDirectives: [String] = [], extraReplacements: [(line: String, with: String)] = []) async throws -> NginxProcess {
            let example = try NginxSiteRenderer.committedExample()
            let ports = instances.map(\.port)
            return try await NginxProcess.start(in: directory.url, httpDirectives: httpDirectives) { listenPort in
                try NginxSiteRenderer.render(example, listenPort: listenPort, upstreamPorts: ports,
                                             extraReplacements: extraReplacements)
            }
        }

        /// Test-only, in the wrapper and not the example: the test plays the trusted front proxy the
        /// example describes (`set_real_ip_from`), so each request brings its own client address. On
        /// failure the cluster is stopped.
        func nginxBehindTestProxy() async throws -> NginxProcess {
            do {
                return try await nginx(httpDirectives: ["set_real_ip_from 127.0.0.1;", "real_ip_header X-Forwarded-For;"])
            } catch {
                _ = await stop()
                throw error
            }
        }

        func scenario(_ arguments: [String], url: String, log name: String) throws -> ServiceProcess {
            let root = RepositoryRoot.find()!
            return try ServiceProcess(root.appendingPathComponent(".venv/bin/python3").path,
                                      ["-u", root.appendingPathComponent("tools/testclients/sio_scenario.py").path]
                                          + arguments + ["--url", url, "--token-a", token],
                                      environment: [:], logURL: directory.url.appendingPathComponent(name))
        }

        /// Stops both instances; true when both exited 0.
        func stop() async -> Bool {
            var clean = true
            for instance in instances where await instance.service.stop() != 0 { clean = false }
            return clean
        }

        /// The instances' logs, for failure messages.
        var logs: String { instances.map(\.service.log).joined(separator: "\n---\n") }
    }

    struct SetUpError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// `/socket.io/` requests of the access log.
    static func engineRequests(_ nginx: NginxProcess) -> [NginxLogEntry] {
        nginx.accessLog().filter { $0.path == "/socket.io/" }
    }

    @Test("python-socketio works through nginx with polling, WebSocket and the default polling→WebSocket upgrade; one client stays on one instance")
    func transportModesThroughNginx() async throws {
        let cluster = try await Cluster.start()
        defer { cluster.directory.remove() }
        let nginx: NginxProcess
        do { nginx = try await cluster.nginx() } catch {
            _ = await cluster.stop()
            throw error
        }
        for mode in ["default", "websocket", "polling"] {
            let client = try cluster.scenario(["basic", "--mode", mode], url: nginx.baseURL, log: "\(mode).log")
            _ = try? await client.waitForLine("(SCENARIO OK|FAIL .*)", timeoutSeconds: 60)
            await client.stop()
            let log = client.log
            #expect(log.contains("SCENARIO OK"), "\(mode): \(log)\nnginx: \(nginx.service.log)")
            #expect(log.contains(#"bad token refused {"message": "Authentication failed"}"#), "\(mode): \(log)")
            #expect(log.contains(#"join answered {"code": "chat3_unavailable", "ok": false}"#), "\(mode): \(log)")
            let transport = mode == "polling" ? "polling" : "websocket"
            #expect(log.contains("connected A \(transport)"), "\(mode): \(log)")
        }

        // The rest of the public surface: REST and /health pass, /metrics and the unlisted paths do not.
        let me = try await HTTPTestClient.send("GET", "\(nginx.baseURL)/api/auth/me",
                                               headers: ["Authorization": "Bearer \(cluster.token)"])
        #expect(me.status == 200 && me.json?["user"]?["name"]?.stringValue == "Nora", "\(me.status) \(me.text)")
        let health = try await HTTPTestClient.send("GET", "\(nginx.baseURL)/health")
        #expect(health.status == 200 && health.json?["status"]?.stringValue == "ok", "\(health.status) \(health.text)")
        for hidden in ["/metrics", "/ready"] {
            let response = try await HTTPTestClient.send("GET", "\(nginx.baseURL)\(hidden)")
            #expect(response.status == 404, "\(hidden) is reachable through nginx: \(response.status) \(response.text)")
            #expect(!response.text.contains("chatd_"), "\(hidden) leaked metrics")
        }

        await nginx.stop()
        let requests = Self.engineRequests(nginx)
        // WebSocket upgrades went through (101), from the default mode's upgrade and the websocket mode.
        let upgrades = requests.filter { $0.transport == "websocket" && $0.status == 101 }
        #expect(upgrades.count >= 4, "WebSocket upgrades through nginx: \(requests)")
        #expect(requests.contains { $0.transport == "polling" && $0.sid != nil && $0.status == 200 }, "\(requests)")
        // Stickiness: every request of this one client address went to one and the same instance.
        let used = Set(requests.map(\.upstream))
        #expect(used.count == 1 && used.isSubset(of: cluster.upstreams),
                "one client address, instances used: \(used), cluster: \(cluster.upstreams)")
        #expect(await cluster.stop(), "\(cluster.logs)")
    }

    @Test("behind a trusted proxy, the hash spreads client addresses over both instances and keeps every session on one")
    func hashSpreadsClientsAndKeepsSessions() async throws {
        let cluster = try await Cluster.start()
        defer { cluster.directory.remove() }
        let nginx = try await cluster.nginxBehindTestProxy()
        let base = "\(nginx.baseURL)/socket.io/?EIO=4&transport=polling"
        var connected = 0
        for client in 1...20 {
            // A complete Socket.IO connect over long-polling: handshake, CONNECT with the token, the
            // server's CONNECT answer, then an Engine.IO close. Each request is a separate HTTP request
            // that nginx must send to the instance holding the session.
            let headers = ["X-Forwarded-For": "203.0.113.\(client)"]
            let handshake = try await HTTPTestClient.send("GET", base, headers: headers)
            guard handshake.status == 200, handshake.text.hasPrefix("0"),
                  let sid = try? JSONValue.parse(String(handshake.text.dropFirst()))["sid"]?.stringValue else {
                Issue.record("client \(client) handshake: \(handshake.status) \(handshake.text)")
                continue
            }
            let connect = try await HTTPTestClient.send("POST", "\(base)&sid=\(sid)", headers: headers,
                                                        body: Data("40{\"token\":\"\(cluster.token)\"}".utf8))
            let answer = try await HTTPTestClient.send("GET", "\(base)&sid=\(sid)", headers: headers)
            if connect.status == 200, answer.status == 200, answer.text.contains("40{\"sid\":") {
                connected += 1
            } else {
                Issue.record("client \(client): CONNECT \(connect.status) \(connect.text), answer \(answer.status) \(answer.text)")
            }
            _ = try await HTTPTestClient.send("POST", "\(base)&sid=\(sid)", headers: headers, body: Data("1".utf8))
        }
        #expect(connected == 20)

        // Each instance's own count of the Engine.IO requests it served (read directly, not via nginx).
        for instance in cluster.instances {
            let metrics = try await HTTPTestClient.send("GET", "\(instance.baseURL)/metrics").text
            let served = metrics.split(separator: "\n").contains {
                $0.hasPrefix("chatd_http_requests_total{") && $0.contains("/socket.io")
            }
            #expect(served, "instance on port \(instance.port) served no Engine.IO request:\n\(metrics)")
        }

        await nginx.stop()
        let requests = Self.engineRequests(nginx).filter { $0.forwardedFor?.hasPrefix("203.0.113.") == true }
        #expect(requests.count >= 20 * 4, "\(requests)")
        // Both instances were used...
        let used = Set(requests.map(\.upstream))
        #expect(used == cluster.upstreams, "instances used: \(used), cluster: \(cluster.upstreams)")
        // ...and every client's requests (handshake included) reached one instance only.
        let byClient = Dictionary(grouping: requests) { $0.forwardedFor ?? "" }
        for (client, entries) in byClient.sorted(by: { $0.key < $1.key }) {
            #expect(Set(entries.map(\.upstream)).count == 1, "\(client) was split: \(entries)")
        }
        #expect(!requests.contains { $0.status == 400 }, "\(requests)")
        #expect(await cluster.stop(), "\(cluster.logs)")
    }

    @Test("with nginx as a trusted proxy, auth.ip_hourly_limit counts each client's address, not nginx's")
    func perClientLimitBehindNginx() async throws {
        let cluster = try await Cluster.start(configLines: "[auth]\nip_hourly_limit = 2\n",
                                              environment: ["CHATD_TRUSTED_PROXIES": "127.0.0.1"])
        defer { cluster.directory.remove() }
        let nginx = try await cluster.nginxBehindTestProxy()
        try await HourWindow.awaitRoom(seconds: 60)
        func requestCode(from client: String, phone: String) async throws -> Int {
            try await HTTPTestClient.send("POST", "\(nginx.baseURL)/api/auth/request-code",
                                          headers: ["X-Forwarded-For": client, "Content-Type": "application/json"],
                                          body: Data(#"{"phone":"\#(phone)","name":"Limit"}"#.utf8)).status
        }
        #expect(try await requestCode(from: "198.51.100.1", phone: "79005550201") == 200)
        #expect(try await requestCode(from: "198.51.100.1", phone: "79005550202") == 200)
        #expect(try await requestCode(from: "198.51.100.1", phone: "79005550203") == 429)
        // Another client behind the same nginx is not held back by the first one's limit.
        #expect(try await requestCode(from: "198.51.100.2", phone: "79005550204") == 200)
        await nginx.stop()
        #expect(await cluster.stop(), "\(cluster.logs)")
    }

    @Test("without the example's hash (round robin), a polling session's next request reaches the other instance, which does not know it")
    func roundRobinBreaksPolling() async throws {
        let cluster = try await Cluster.start()
        defer { cluster.directory.remove() }
        // Test-only variation: the example's stickiness line commented out, everything else as committed.
        // This shows the two instances really are separate behind nginx, and that the hash is what makes
        // polling (and so the default polling→WebSocket connect) work in the other tests.
        let nginx: NginxProcess
        do {
            nginx = try await cluster.nginx(extraReplacements: [(line: "hash $remote_addr consistent;",
                                                                 with: "# hash removed by the test")])
        } catch {
            _ = await cluster.stop()
            throw error
        }
        let base = "\(nginx.baseURL)/socket.io/?EIO=4&transport=polling"
        let handshake = try await HTTPTestClient.send("GET", base)
        let sid = try? JSONValue.parse(String(handshake.text.dropFirst()))["sid"]?.stringValue
        #expect(handshake.status == 200 && sid != nil, "\(handshake.status) \(handshake.text)")
        let connect = try await HTTPTestClient.send("POST", "\(base)&sid=\(sid ?? "")",
                                                    body: Data("40{\"token\":\"\(cluster.token)\"}".utf8))
        #expect(connect.status == 400 && connect.text.contains("Session ID unknown"), "\(connect.status) \(connect.text)")
        await nginx.stop()
        let requests = Self.engineRequests(nginx)
        #expect(requests.count == 2 && Set(requests.map(\.upstream)) == cluster.upstreams, "\(requests)")
        #expect(await cluster.stop(), "\(cluster.logs)")
    }
}
