import ChatCore
import Foundation
import Testing
import TestSupport

/// chatd's limits (`ServerLimits`, issue 13) against the real binary and real clients: each test drives
/// one limit past its bound and shows the clear answer, the offender closed, and a bystander unaffected.
@Suite("limits on the chatd binary", .serialized)
struct LimitsTests {
    struct Fixture {
        let directory: TemporaryDirectory
        let environment: [String: String]
        let chatd: ChatdProcess
        let tokens: [String]

        /// `config` is TOML text for the limit keys under test; `users` users get a token each.
        static func start(config: String, users: Int = 1, chatdEnvironment: [String: String] = [:]) async throws -> Fixture {
            let directory = try TemporaryDirectory("limits")
            let configPath = directory.path("chatd.toml")
            try config.write(toFile: configPath, atomically: true, encoding: .utf8)
            let environment = [
                "CHATD_STORE": "sqlite://\(directory.path("t.sqlite"))",
                "CHATD_STATE_DIR": directory.url.path,
                "CHATD_CONFIG": configPath,
                "CHATD_CONTROL_SOCKET": directory.path("chatd.sock"),
                "JWT_SECRET": String(repeating: "k", count: 40),
                "SMS_SENDER": "command",
                "SMS_COMMAND": "true",
                "CHAT3_API_URL": "http://127.0.0.1:9/api",
            ]
            var tokens: [String] = []
            for index in 0..<users {
                let created = try await runCommand(ChatBinaries.path("chatctl"),
                                                   ["user", "create", "--create-store",
                                                    "--phone", "7900555\(String(format: "%04d", index))",
                                                    "--name", "User\(index)", "--json"], environment: environment)
                let userId = try #require(try JSONValue.parse(created.stdout)["userId"]?.stringValue, "\(created.stderr)")
                let minted = try await runCommand(ChatBinaries.path("chatctl"), ["token", "mint", "--user", userId],
                                                  environment: environment)
                tokens.append(minted.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            let chatd = try await ChatdProcess.start(environment: environment.merging(chatdEnvironment) { $1 },
                                                     logURL: directory.url.appendingPathComponent("chatd.log"))
            return Fixture(directory: directory, environment: environment, chatd: chatd, tokens: tokens)
        }

        var port: Int { chatd.port }

        /// A bystander's request: `/health` from another loopback address, with its latency.
        func bystanderHealth() throws -> (ok: Bool, seconds: Double) {
            let started = Date()
            let answer = try RawTCPClient.request("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                                  port: port, source: "127.0.0.2")
            return (answer.hasPrefix("HTTP/1.1 200"), Date().timeIntervalSince(started))
        }

        func limitHits(_ limit: String) async throws -> Int {
            let text = try await HTTPTestClient.send("GET", "\(chatd.baseURL)/metrics").text
            let prefix = "chatd_limit_hits_total{limit=\"\(limit)\"} "
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return 0 }
            return Int(Double(line.dropFirst(prefix.count)) ?? 0)
        }

        /// A bystander user's REST request (`/api/auth/me` with the last token), with its latency.
        func bystanderMe() async throws -> (ok: Bool, seconds: Double) {
            let started = Date()
            let answer = try await HTTPTestClient.json("GET", "\(chatd.baseURL)/api/auth/me", token: tokens.last!)
            return (answer.status == 200, Date().timeIntervalSince(started))
        }

        /// Runs tools/testclients/limits_client.py and returns its JSON line, while measuring the
        /// bystander's requests before and during it.
        func misbehave(_ arguments: [String], name: String) async throws
            -> (result: JSONValue, before: Double, during: Double, bystanderOK: Bool) {
            var before = 0.0
            for _ in 0..<3 { before = max(before, try await bystanderMe().seconds) }
            let root = RepositoryRoot.find()!
            let client = try ServiceProcess(root.appendingPathComponent(".venv/bin/python3").path,
                                            ["-u", root.appendingPathComponent("tools/testclients/limits_client.py").path]
                                                + arguments + ["--url", chatd.baseURL],
                                            environment: [:], logURL: directory.url.appendingPathComponent("\(name).log"))
            // The median of the bystander's requests while the offender runs: one slow sample on a
            // loaded machine (the whole suite runs in parallel) says nothing about chatd.
            var samples: [Double] = []
            var ok = true
            repeat {
                let probe = try await bystanderMe()
                samples.append(probe.seconds)
                ok = ok && probe.ok
            } while client.isRunning
            let during = samples.sorted()[samples.count / 2]
            let line = try await client.waitForLine("(\\{.*\\})", timeoutSeconds: 5)
            return (try JSONValue.parse(line), before, during, ok)
        }

        func sockets(count: Int) throws -> ServiceProcess {
            let tokensFile = directory.url.appendingPathComponent("tokens.json")
            try Data(JSONValue.array(tokens.map(JSONValue.string)).serialized().utf8).write(to: tokensFile)
            let root = RepositoryRoot.find()!
            return try ServiceProcess(root.appendingPathComponent(".venv/bin/python3").path, [
                "-u", root.appendingPathComponent("tools/testclients/sio_load.py").path,
                "--port", "\(port)", "--tokens", tokensFile.path, "--count", "\(count)", "--timeout", "120",
            ], environment: [:], logURL: directory.url.appendingPathComponent("sockets.log"))
        }
    }

    @Test("SIGTERM with a silent connection, a half-sent request head, a half-sent body and 100 live sockets exits 0 within server.shutdown_timeout and logs what was still open")
    func boundedShutdown() async throws {
        let fixture = try await Fixture.start(config: "[server]\nshutdown_timeout = \"3s\"\n")
        defer { fixture.directory.remove() }
        let sockets = try fixture.sockets(count: 100)
        defer { Task { await sockets.stop() } }
        _ = try await sockets.waitForLine("CONNECTED 100", timeoutSeconds: 90)
        let silent = try RawTCPClient(port: fixture.port)
        let halfHead = try RawTCPClient(port: fixture.port)
        halfHead.send("GET /health HTTP/1.1\r\nHost: x\r\n")
        // Head complete, body not: the route waits for the rest, which never comes.
        let halfBody = try RawTCPClient(port: fixture.port)
        halfBody.send("POST /api/auth/request-code HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"pho")
        try await Task.sleep(for: .milliseconds(300))  // let chatd read the partial bytes

        let started = ContinuousClock.now
        let status = await fixture.chatd.service.stop(graceSeconds: 12)
        let elapsed = ContinuousClock.now - started
        #expect(status == 0)
        #expect(elapsed < .seconds(6), "shutdown took \(elapsed)")
        let log = fixture.chatd.service.log
        #expect(log.contains("shutting down connection.count="), "\(log)")
        #expect(log.contains("real-time sessions closed socket.count=100"), "\(log)")
        #expect(log.contains("shutdown deadline reached; closing what is still open connection.count=1"), "\(log)")
        #expect(log.contains("chatd stopped"))
        for client in [silent, halfHead, halfBody] {
            #expect(client.readUntilClosed(timeoutSeconds: 2).closed)
        }
    }

    @Test("a connection without a complete request head within server.request_head_timeout gets 408 and is closed, while a bystander's requests stay fast")
    func requestHeadTimeout() async throws {
        let fixture = try await Fixture.start(config: "[server]\nrequest_head_timeout = \"1s\"\n")
        defer { fixture.directory.remove() }
        let before = try fixture.bystanderHealth()
        #expect(before.ok)
        let slow = try RawTCPClient(port: fixture.port)
        slow.send("GET /health HTTP/1.1\r\nHost: x\r\n")
        let during = try fixture.bystanderHealth()
        let answer = slow.readUntilClosed(timeoutSeconds: 8)
        #expect(answer.closed)
        #expect(answer.text.hasPrefix("HTTP/1.1 408"), "\(answer.text)")
        #expect(answer.text.contains(#""code":"request_timeout""#), "\(answer.text)")
        #expect(during.ok)
        #expect(during.seconds < max(0.5, before.seconds * 2), "bystander \(before.seconds)s → \(during.seconds)s")
        #expect(try await fixture.limitHits("request_head_timeout") == 1)
        #expect(await fixture.chatd.service.stop() == 0)
    }

    @Test("connections past server.max_connections_per_address get 503 too_many_connections and are closed; another address is still served")
    func connectionsPerAddress() async throws {
        let fixture = try await Fixture.start(config: "[server]\nmax_connections_per_address = 5\n")
        defer { fixture.directory.remove() }
        let before = try fixture.bystanderHealth()
        // The fixture's own metrics requests come from 127.0.0.1 too; hold four of its five.
        let held = try (0..<4).map { _ in try RawTCPClient(port: fixture.port, source: "127.0.0.3") }
        let last = try RawTCPClient(port: fixture.port, source: "127.0.0.3")
        let refused = try RawTCPClient(port: fixture.port, source: "127.0.0.3")
        let answer = refused.readUntilClosed(timeoutSeconds: 5)
        #expect(answer.closed)
        #expect(answer.text.hasPrefix("HTTP/1.1 503"), "\(answer.text)")
        #expect(answer.text.contains(#""code":"too_many_connections""#), "\(answer.text)")
        let during = try fixture.bystanderHealth()
        #expect(during.ok)
        #expect(during.seconds < max(0.5, before.seconds * 2), "bystander \(before.seconds)s → \(during.seconds)s")
        // A slot freed is a slot to use again.
        last.close()
        // chatd learns of the close asynchronously: a refusal until then is expected, a 200 after it.
        var again = ""
        let deadline = Date().addingTimeInterval(5)
        repeat {
            again = try RawTCPClient.request("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                             port: fixture.port, source: "127.0.0.3")
        } while !again.hasPrefix("HTTP/1.1 200") && Date() < deadline
        #expect(again.hasPrefix("HTTP/1.1 200"), "\(again)")
        #expect(try await fixture.limitHits("connections_per_address") >= 1)
        // Once per address however many refusals (the retry loop above may add some).
        let line = "per-address limit reached; further refusals of this address are not logged for a while"
            + " client.address=127.0.0.3 limit=connections_per_address limit.max=5"
        #expect(fixture.chatd.service.log.components(separatedBy: line).count == 2, "\(fixture.chatd.service.log)")
        held.forEach { $0.close() }
        #expect(await fixture.chatd.service.stop() == 0)
    }

    @Test("socketio.ping_interval, ping_timeout and max_payload reach the Engine.IO handshake")
    func heartbeatKeys() async throws {
        let fixture = try await Fixture.start(config: "[socketio]\nping_interval = \"7s\"\nping_timeout = \"3s\"\nmax_payload = 50000\n")
        defer { fixture.directory.remove() }
        let open = try await HTTPTestClient.send("GET", "\(fixture.chatd.baseURL)/socket.io/?EIO=4&transport=polling")
        #expect(open.text.contains(#""pingInterval":7000,"pingTimeout":3000,"maxPayload":50000"#), "\(open.text)")
        #expect(await fixture.chatd.service.stop() == 0)
    }

    @Test("a socket emitting faster than socketio.events_per_second is told limit:exceeded socket_event_rate and disconnected; another user's requests stay fast")
    func eventRate() async throws {
        let fixture = try await Fixture.start(config: "[socketio]\nevents_per_second = 5\n", users: 2)
        defer { fixture.directory.remove() }
        let run = try await fixture.misbehave(["ws-flood", "--token", fixture.tokens[0], "--count", "200"], name: "rate")
        #expect(run.result["limit"]?["limit"] == "socket_event_rate", "\(run.result)")
        #expect(run.result["disconnected"] == true && run.result["closed"] == true, "\(run.result)")
        // The bucket holds 10 (twice the rate) plus what refills while the flood is sent.
        #expect((run.result["acks"]?.doubleValue ?? 0) < 40, "\(run.result)")
        #expect(run.bystanderOK)
        #expect(run.during < max(1.0, run.before * 2), "bystander \(run.before)s → \(run.during)s")
        #expect(try await fixture.limitHits("socket_event_rate") == 1)
        #expect(await fixture.chatd.service.stop() == 0)
    }

    @Test("a socket whose events wait behind a hung Chat3 is told limit:exceeded socket_event_queue past socketio.event_queue and disconnected; another user's requests stay fast")
    func eventQueue() async throws {
        let chat3 = try BlackHoleListener()
        defer { chat3.close() }
        let fixture = try await Fixture.start(
            config: "[socketio]\nevents_in_flight = 2\nevent_queue = 4\nevents_per_second = 1000\n[chat3]\nrequest_timeout = \"20s\"\n",
            users: 2, chatdEnvironment: ["CHAT3_API_URL": "http://127.0.0.1:\(chat3.port)/api"])
        defer { fixture.directory.remove() }
        let run = try await fixture.misbehave(["ws-flood", "--token", fixture.tokens[0], "--event", "dialog:join",
                                               "--arg", "\"dlg_aaaaaaaaaaaaaaaaaaaa\"", "--count", "20"], name: "queue")
        #expect(run.result["limit"]?["limit"] == "socket_event_queue", "\(run.result)")
        #expect(run.result["disconnected"] == true && run.result["closed"] == true, "\(run.result)")
        // Two joins hang in Chat3, four wait: none is answered before the seventh closes the socket.
        #expect(run.result["acks"] == 0, "\(run.result)")
        #expect(run.bystanderOK)
        #expect(run.during < max(1.0, run.before * 2), "bystander \(run.before)s → \(run.during)s")
        #expect(try await fixture.limitHits("socket_event_queue") == 1)
        // Chat3 calls still hang (20 s): the stop must not wait for them.
        let stopping = ContinuousClock.now
        #expect(await fixture.chatd.service.stop(graceSeconds: 30) == 0)
        #expect(ContinuousClock.now - stopping < .seconds(15), "stop took \(ContinuousClock.now - stopping)")
    }

    @Test("a polling POST with more packets than socketio.max_packets_per_post gets 400 Too many packets and its session closes; another user's requests stay fast")
    func packetsPerPost() async throws {
        let fixture = try await Fixture.start(config: "[socketio]\nmax_packets_per_post = 50\n", users: 2)
        defer { fixture.directory.remove() }
        let run = try await fixture.misbehave(["post-flood", "--token", fixture.tokens[0], "--count", "51"], name: "post")
        #expect(run.result["status"] == 400, "\(run.result)")
        #expect(run.result["body"] == #"{"code":3,"message":"Too many packets"}"#, "\(run.result)")
        #expect(run.result["after"] == 400, "the session should be gone: \(run.result)")
        #expect(run.bystanderOK)
        #expect(run.during < max(1.0, run.before * 2), "bystander \(run.before)s → \(run.during)s")
        #expect(try await fixture.limitHits("post_packets") == 1)
        #expect(await fixture.chatd.service.stop() == 0)
    }

    @Test("Engine.IO sessions that never send a Socket.IO CONNECT are closed after socketio.connect_timeout; another user's requests stay fast")
    func connectTimeout() async throws {
        let fixture = try await Fixture.start(config: "[socketio]\nconnect_timeout = \"2s\"\n", users: 1)
        defer { fixture.directory.remove() }
        let run = try await fixture.misbehave(["no-connect", "--count", "20", "--wait", "4"], name: "silent")
        #expect(run.result["opened"] == 20, "\(run.result)")
        #expect(run.result["gone"] == 20, "\(run.result)")
        #expect(run.bystanderOK)
        #expect(run.during < max(1.0, run.before * 2), "bystander \(run.before)s → \(run.during)s")
        #expect(try await fixture.limitHits("connect_timeout") == 20)
        #expect(await fixture.chatd.service.stop() == 0)
    }

    @Test("handshakes past socketio.max_sessions_per_address get 429 and open no session; another user's requests stay fast")
    func sessionsPerAddress() async throws {
        let fixture = try await Fixture.start(config: "[socketio]\nmax_sessions_per_address = 5\n", users: 1)
        defer { fixture.directory.remove() }
        let run = try await fixture.misbehave(["no-connect", "--count", "8"], name: "sessions")
        #expect(run.result["opened"] == 5, "\(run.result)")
        let refused = run.result["refused"]?.arrayValue ?? []
        #expect(refused.count == 3)
        #expect(refused.allSatisfy {
            $0["status"] == 429 && $0["body"] == #"{"code":4,"message":"Too many sessions from this address"}"#
        }, "\(refused)")
        #expect(run.bystanderOK)
        #expect(run.during < max(1.0, run.before * 2), "bystander \(run.before)s → \(run.during)s")
        #expect(try await fixture.limitHits("sessions_per_address") == 3)
        #expect(await fixture.chatd.service.stop() == 0)
    }

    @Test("an unknown method or a malformed request line gets 400 malformed_request and a close, an oversized head 431; a bystander is served")
    func unparseableRequests() async throws {
        let fixture = try await Fixture.start(config: "")
        defer { fixture.directory.remove() }
        for request in ["FOO /health HTTP/1.1\r\nHost: x\r\n\r\n", "GET /health HTTP/9\r\n\r\n", "\u{1}\u{2}garbage\r\n\r\n"] {
            let client = try RawTCPClient(port: fixture.port)
            client.send(request)
            let answer = client.readUntilClosed(timeoutSeconds: 5)
            #expect(answer.closed, "\(request.debugDescription)")
            #expect(answer.text.hasPrefix("HTTP/1.1 400"), "\(request.debugDescription): \(answer.text)")
            #expect(answer.text.contains(#""code":"malformed_request""#), "\(answer.text)")
        }
        let huge = try RawTCPClient(port: fixture.port)
        huge.send("GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(String(repeating: "a", count: 20_000))\r\n\r\n")
        let answer = huge.readUntilClosed(timeoutSeconds: 5)
        #expect(answer.closed)
        #expect(answer.text.hasPrefix("HTTP/1.1 431"), "\(answer.text)")
        #expect(try fixture.bystanderHealth().ok)
        #expect(try await fixture.limitHits("malformed_request") == 3)
        #expect(try await fixture.limitHits("request_head_size") == 1)
        #expect(await fixture.chatd.service.stop() == 0)
    }

    @Test("message content is bounded in characters (not grapheme clusters) and UTF-8 bytes, meta per value and in total; each refusal is a 400 envelope naming the limit")
    func contentAndMetaBytes() async throws {
        let fixture = try await Fixture.start(config: "[messages]\nmax_content_bytes = 8000\n", users: 1)
        defer { fixture.directory.remove() }
        let url = "\(fixture.chatd.baseURL)/api/messages/dialog/dlg_aaaaaaaaaaaaaaaaaaaa"
        func send(_ body: JSONValue) async throws -> (status: Int, error: String) {
            let answer = try await HTTPTestClient.json("POST", url, body, token: fixture.tokens[0])
            return (answer.status, answer.json?["error"]?.stringValue ?? answer.text)
        }
        let oneCluster = "e" + String(repeating: "\u{301}", count: 5000)  // one grapheme, 5001 scalars, 10 KB
        #expect(oneCluster.count == 1)
        #expect(try await send(["content": .string(oneCluster)]) == (400, "content must be 1 to 4096 characters"))
        #expect(try await send(["content": .string(String(repeating: "a", count: 4097))]) == (400, "content must be 1 to 4096 characters"))
        #expect(try await send(["content": .string(String(repeating: "я", count: 4096))])
                == (400, "content must be at most 8000 bytes of UTF-8"))
        #expect(try await send(["content": "hi", "meta": ["note": .string(String(repeating: "x", count: 5000))]])
                == (400, "meta.note is over 4096 bytes"))
        let big = JSONValue.string(String(repeating: "x", count: 4000))
        #expect(try await send(["content": "hi", "meta": ["a": big, "b": big, "c": big, "d": big, "e": big]])
                == (400, "meta is over 16384 bytes"))
        // Within every limit the message goes on to Chat3 (absent here).
        #expect(try await send(["content": .string(String(repeating: "я", count: 3000)), "meta": ["a": big]]).status == 503)
        #expect(await fixture.chatd.service.stop() == 0)
    }

    @Test("120 messages with 400 KB meta are refused without growing chatd's RSS by more than 30 MB")
    func metaMemory() async throws {
        let fixture = try await Fixture.start(config: "", users: 1)
        defer { fixture.directory.remove() }
        let url = "\(fixture.chatd.baseURL)/api/messages/dialog/dlg_aaaaaaaaaaaaaaaaaaaa"
        let body = JSONValue.object(["content": "hi", "meta": ["blob": .string(String(repeating: "x", count: 400_000))]])
        let payload = Data(body.serialized().utf8)
        let headers = ["Content-Type": "application/json", "Authorization": "Bearer \(fixture.tokens[0])"]
        _ = try await HTTPTestClient.send("POST", url, headers: headers, body: payload)
        let before = try Self.rssKilobytes(fixture.chatd.service.pid)
        for _ in 0..<120 {
            let answer = try await HTTPTestClient.send("POST", url, headers: headers, body: payload)
            #expect(answer.status == 400)
        }
        let after = try Self.rssKilobytes(fixture.chatd.service.pid)
        #expect(after - before < 30_000, "RSS \(before) kB → \(after) kB")
        #expect(await fixture.chatd.service.stop() == 0)
    }

    static func rssKilobytes(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    @Test("Engine.IO as the reference server answers it: PUT/DELETE handshakes get 400 Bad handshake method, a pending poll is released with 6 (noop) when the client closes, preflights allow credentials")
    func engineIODetails() async throws {
        let fixture = try await Fixture.start(config: "[server]\ncors_origins = \"http://app.example\"\n")
        defer { fixture.directory.remove() }
        let base = "\(fixture.chatd.baseURL)/socket.io/?EIO=4&transport=polling"
        for method in ["PUT", "DELETE"] {
            let answer = try await HTTPTestClient.send(method, base)
            #expect(answer.status == 400)
            #expect(answer.text == #"{"code":2,"message":"Bad handshake method"}"#, "\(method): \(answer.text)")
        }
        let open = try await HTTPTestClient.send("GET", base)
        let sid = try #require(try JSONValue.parse(String(open.text.dropFirst()))["sid"]?.stringValue)
        async let pending = HTTPTestClient.send("GET", base + "&sid=\(sid)", timeoutSeconds: 30)
        // The GET must be waiting before the close arrives: wait until chatd has it.
        try await Task.sleep(for: .milliseconds(300))
        let closed = try await HTTPTestClient.send("POST", base + "&sid=\(sid)", body: Data("1".utf8))
        #expect(closed.text == "ok")
        let poll = try await pending
        #expect(poll.status == 200)
        #expect(poll.text == "6", "the official engine.io-protocol suite expects noop here")
        let preflight = try await HTTPTestClient.send("OPTIONS", base, headers: [
            "Origin": "http://app.example", "Access-Control-Request-Method": "POST",
        ])
        #expect(preflight.header("Access-Control-Allow-Credentials") == "true")
        #expect(preflight.header("Access-Control-Allow-Origin") == "http://app.example")
        #expect(await fixture.chatd.service.stop() == 0)
    }
}

/// A TCP port that accepts connections (the kernel's backlog) and never answers: a hung upstream.
final class BlackHoleListener: @unchecked Sendable {
    // Opened once in init, closed once.
    let descriptor: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw -> Bool in
                bind(fd, raw, length) == 0 && listen(fd, 128) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        descriptor = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { _ = Glibc.close(descriptor) }
}
