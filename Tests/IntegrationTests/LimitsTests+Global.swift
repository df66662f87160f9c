import ChatCore
import Foundation
import Testing
import TestSupport

/// The global caps (`server.max_connections`, `socketio.max_sessions`) and the idle timeout, driven past
/// their bounds against the real binary: part of the serialized limits suite.
extension LimitsTests {
    /// One request on a keep-alive connection: whether it got a 200, the answer, and how long it took.
    static func keepAliveRequest(_ client: RawTCPClient, _ path: String) -> (ok: Bool, answer: String, seconds: Double) {
        let started = Date()
        client.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
        let answer = client.readResponse(timeoutSeconds: 10) ?? ""
        return (answer.hasPrefix("HTTP/1.1 200"), answer, Date().timeIntervalSince(started))
    }

    /// Runs blocking socket calls on a thread of their own: on the cooperative pool (two threads on a
    /// two-core machine) they would hold back every other task, the timing under test included.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    /// `chatd_limit_hits_total{limit}` read over a fresh `Connection: close` request, so reading it
    /// leaves no keep-alive connection behind that could itself hit a limit later.
    static func limitHits(_ limit: String, port: Int, source: String) throws -> Int {
        let text = try RawTCPClient.request("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                            port: port, source: source)
        return hits(limit, inMetrics: text)
    }

    static func hits(_ limit: String, inMetrics text: String) -> Int {
        let prefix = "chatd_limit_hits_total{limit=\"\(limit)\"} "
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return 0 }
        return Int(Double(line.dropFirst(prefix.count).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0)
    }

    @Test("connections past server.max_connections get 503 too_many_connections from any address, silent, half-sent or complete; a connection opened before keeps being served at the cap, and a freed slot is used again")
    func globalConnections() async throws {
        // Long head timeout: the silent and half-sent connections below must be refused by the cap, not timed out.
        let fixture = try await Fixture.start(config: "[server]\nmax_connections = 20\nrequest_head_timeout = \"60s\"\n")
        defer { fixture.directory.remove() }
        let bystander = try RawTCPClient(port: fixture.port, source: "127.0.0.2")
        defer { bystander.close() }
        let before = Self.keepAliveRequest(bystander, "/health")
        #expect(before.ok, "\(before.answer)")
        // 19 more from five addresses (each far below the per-address cap). Each is answered once and kept
        // open, so each is counted by the time the next step runs.
        var held: [RawTCPClient] = []
        defer { held.forEach { $0.close() } }
        for index in 0..<19 {
            let client = try RawTCPClient(port: fixture.port, source: "127.0.1.\(10 + index % 5)")
            let answer = Self.keepAliveRequest(client, "/health")
            #expect(answer.ok, "connection \(index): \(answer.answer)")
            held.append(client)
        }
        // At the cap: whatever the new connection sends, and from whichever address, it is refused at once.
        let attempts: [(source: String, send: String)] = [
            ("127.0.1.20", ""),
            ("127.0.1.21", "GET /health HTTP/1.1\r\nHost: x\r\n"),
            ("127.0.0.2", "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ]
        for attempt in attempts {
            let client = try RawTCPClient(port: fixture.port, source: attempt.source)
            if !attempt.send.isEmpty { client.send(attempt.send) }
            let answer = client.readUntilClosed(timeoutSeconds: 10)
            #expect(answer.closed, "\(attempt.source) \(attempt.send.debugDescription)")
            #expect(answer.text.hasPrefix("HTTP/1.1 503"), "\(answer.text)")
            #expect(answer.text.contains("Retry-After: 1\r\n"), "\(answer.text)")
            #expect(answer.text.contains(#""code":"too_many_connections""#), "\(answer.text)")
            client.close()
        }
        // The connection opened before the flood is still served, as fast as before.
        let during = Self.keepAliveRequest(bystander, "/health")
        #expect(during.ok, "\(during.answer)")
        #expect(during.seconds < max(0.5, before.seconds * 2), "bystander \(before.seconds)s → \(during.seconds)s")
        let metrics = Self.keepAliveRequest(bystander, "/metrics")
        #expect(metrics.ok)
        #expect(Self.hits("connections", inMetrics: metrics.answer) == 3, "\(metrics.answer)")
        #expect(Self.hits("connections_per_address", inMetrics: metrics.answer) == 0)
        // A slot freed is a slot to use again; chatd learns of the close asynchronously, so a refusal
        // until then is expected, a 200 after it.
        held.removeFirst().close()
        var again = ""
        let deadline = Date().addingTimeInterval(10)
        repeat {
            again = try RawTCPClient.request("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                             port: fixture.port, source: "127.0.1.30")
        } while !again.hasPrefix("HTTP/1.1 200") && Date() < deadline
        #expect(again.hasPrefix("HTTP/1.1 200"), "\(again)")
        #expect(await fixture.chatd.service.stop() == 0)
    }

    @Test("handshakes past socketio.max_sessions get 503 Too many sessions and open nothing; a socket connected before stays connected, REST stays fast, and once the sessions close a new socket connects")
    func globalSessions() async throws {
        let fixture = try await Fixture.start(config: "[socketio]\nmax_sessions = 20\n", users: 1)
        defer { fixture.directory.remove() }
        // A connected Socket.IO client holds one of the 20 sessions through the flood.
        let connected = try fixture.sockets(count: 1)
        _ = try await connected.waitForLine("CONNECTED 1", timeoutSeconds: 60)
        let run = try await fixture.misbehave(["no-connect", "--count", "25", "--close"], name: "sessions")
        #expect(run.result["opened"] == 19, "\(run.result)")
        let refused = run.result["refused"]?.arrayValue ?? []
        #expect(refused.count == 6, "\(run.result)")
        #expect(refused.allSatisfy { $0["status"] == 503 && $0["body"] == #"{"code":4,"message":"Too many sessions"}"# },
                "\(refused)")
        // Its sessions closed, the offender's next handshake is admitted.
        #expect(run.result["after"] == 200, "\(run.result)")
        #expect(run.bystanderOK)
        #expect(run.during < max(1.0, run.before * 2), "bystander \(run.before)s → \(run.during)s")
        #expect(try await fixture.limitHits("sessions") == 6)
        #expect(try await fixture.limitHits("sessions_per_address") == 0)
        // The socket connected before the flood was not cut (sio_load exits with FAIL when one breaks).
        #expect(connected.isRunning && !connected.log.contains("FAIL"), "\(connected.log)")
        // And a new client connects all the way (handshake, WebSocket, CONNECT).
        let newcomer = try fixture.sockets(count: 1)
        _ = try await newcomer.waitForLine("CONNECTED 1", timeoutSeconds: 60)
        // sio_load does not act on SIGTERM while it waits for its event; nothing of it needs to outlive this.
        await newcomer.stop(signal: SIGKILL)
        await connected.stop(signal: SIGKILL)
        #expect(await fixture.chatd.service.stop() == 0)
    }

    @Test("a keep-alive connection idle for server.idle_timeout is closed and counted in idle_timeout; a connection that keeps sending requests and a long poll pending past the idle time are not cut")
    func idleTimeout() async throws {
        // The poll waits for the first ping (8 s), twice the idle timeout.
        let fixture = try await Fixture.start(config: "[server]\nidle_timeout = \"4s\"\n[socketio]\nping_interval = \"8s\"\n")
        defer { fixture.directory.remove() }
        let idle = try RawTCPClient(port: fixture.port, source: "127.0.0.3")
        defer { idle.close() }
        let first = Self.keepAliveRequest(idle, "/health")
        #expect(first.ok, "\(first.answer)")
        let idleSince = Date()

        let poller = try RawTCPClient(port: fixture.port, source: "127.0.0.4")
        defer { poller.close() }
        let handshake = Self.keepAliveRequest(poller, "/socket.io/?EIO=4&transport=polling")
        #expect(handshake.ok, "\(handshake.answer)")
        let body = handshake.answer.components(separatedBy: "\r\n\r\n").last ?? ""
        let sid = try #require(try JSONValue.parse(String(body.dropFirst()))["sid"]?.stringValue, "\(body)")
        poller.send("GET /socket.io/?EIO=4&transport=polling&sid=\(sid) HTTP/1.1\r\nHost: x\r\n\r\n")

        // A client that sends a request every second for 8 s: never idle for 4 s.
        let port = fixture.port
        async let active = Self.onThread { () -> [Bool] in
            let client = try RawTCPClient(port: port, source: "127.0.0.5")
            defer { client.close() }
            var answers: [Bool] = []
            for _ in 0..<8 {
                answers.append(Self.keepAliveRequest(client, "/health").ok)
                Thread.sleep(forTimeInterval: 1)
            }
            answers.append(Self.keepAliveRequest(client, "/health").ok)
            return answers
        }
        async let polled = Self.onThread { () -> String? in
            defer { poller.close() }
            return poller.readResponse(timeoutSeconds: 30)
        }
        let closing = try await Self.onThread { idle.readUntilClosed(timeoutSeconds: 30) }
        let idleFor = Date().timeIntervalSince(idleSince)
        #expect(closing.closed, "the idle connection was not closed")
        #expect(closing.text.isEmpty, "\(closing.text)")
        // Timers do not fire early; the upper bound is generous for a loaded machine.
        #expect(idleFor >= 3.9 && idleFor < 20, "closed after \(idleFor) s")

        let poll = try await polled
        #expect(poll?.hasPrefix("HTTP/1.1 200") == true, "\(poll ?? "closed")")
        #expect(poll?.hasSuffix("\r\n\r\n2") == true, "the poll should end with the first ping: \(poll ?? "closed")")
        let answers = try await active
        #expect(answers == Array(repeating: true, count: 9), "\(answers)")
        // Only the idle connection hit the limit (the others were closed by this test, not by chatd).
        #expect(try Self.limitHits("idle_timeout", port: fixture.port, source: "127.0.0.6") == 1)
        #expect(await fixture.chatd.service.stop() == 0)
    }
}

extension LimitsTests {
    @Test("socketio.max_sessions_per_address counts an IPv6 client by its /64: other addresses of the same /64 are refused 429, another /64 is served")
    func sessionsPerIPv6Prefix() async throws {
        // Loopback is the trusted proxy, so X-Forwarded-For names the client, as nginx would.
        let fixture = try await Fixture.start(
            config: "[server]\ntrusted_proxies = \"127.0.0.1\"\n[socketio]\nmax_sessions_per_address = 3\n")
        defer { fixture.directory.remove() }
        let base = "\(fixture.chatd.baseURL)/socket.io/?EIO=4&transport=polling"
        func handshake(_ client: String) async throws -> HTTPResult {
            try await HTTPTestClient.send("GET", base, headers: ["X-Forwarded-For": client])
        }
        for client in ["2001:db8:1:2::a", "2001:db8:1:2::b", "2001:db8:1:2:aaaa:bbbb:cccc:dddd"] {
            #expect(try await handshake(client).status == 200, "\(client)")
        }
        let sameHost = try await handshake("2001:db8:1:2::ffff")
        #expect(sameHost.status == 429)
        #expect(sameHost.text == #"{"code":4,"message":"Too many sessions from this address"}"#)
        #expect(try await handshake("2001:db8:1:3::a").status == 200, "another /64 is another client")
        #expect(try await handshake("203.0.113.9").status == 200)
        let refused = try await handshake("2001:db8:1:2::eeee")
        #expect(refused.status == 429)
        #expect(try await fixture.limitHits("sessions_per_address") == 2)
        // The operator is told which client, once for both refusals.
        let line = "per-address limit reached; further refusals of this address are not logged for a while"
            + " client.address=2001:db8:1:2::/64 limit=sessions_per_address limit.max=3"
        #expect(fixture.chatd.service.log.components(separatedBy: line).count == 2, "\(fixture.chatd.service.log)")
        #expect(await fixture.chatd.service.stop() == 0)
    }
}

extension LimitsTests {
    @Test("auth.ip_hourly_limit counts an IPv6 client by its /64: another address of the same /64 is refused 429 rate_limited, another /64 is served")
    func loginLimitPerIPv6Prefix() async throws {
        // Loopback is the trusted proxy, so X-Forwarded-For names the client, as nginx would.
        let fixture = try await Fixture.start(config: "[server]\ntrusted_proxies = \"127.0.0.1\"\n[auth]\nip_hourly_limit = 2\n")
        defer { fixture.directory.remove() }
        try await HourWindow.awaitRoom(seconds: 60)
        func requestCode(from client: String, phone: String) async throws -> HTTPResult {
            try await HTTPTestClient.send("POST", "\(fixture.chatd.baseURL)/api/auth/request-code",
                                          headers: ["X-Forwarded-For": client, "Content-Type": "application/json"],
                                          body: Data(#"{"phone":"\#(phone)","name":"Six"}"#.utf8))
        }
        #expect(try await requestCode(from: "2001:db8:5:6::a", phone: "79005556601").status == 200)
        #expect(try await requestCode(from: "2001:db8:5:6:1:2:3:4", phone: "79005556602").status == 200)
        // A third address of the same /64: the same host picking a fresh privacy address.
        let sameHost = try await requestCode(from: "2001:db8:5:6::ffff", phone: "79005556603")
        #expect(sameHost.status == 429)
        #expect(sameHost.json?["code"] == "rate_limited", "\(sameHost.text)")
        #expect(try await requestCode(from: "2001:db8:5:7::a", phone: "79005556604").status == 200, "another /64 is another client")
        #expect(try await requestCode(from: "203.0.113.20", phone: "79005556605").status == 200)
        #expect(await fixture.chatd.service.stop() == 0)
    }
}

extension LimitsTests {
    @Test("a request body trickled a byte at a time past server.request_body_timeout gets 408 request_timeout and a close, though it never went idle; a complete body on a keep-alive connection is not cut later, and a bystander is served")
    func requestBodyTimeout() async throws {
        let fixture = try await Fixture.start(config: "[server]\nrequest_body_timeout = \"2s\"\n")
        defer { fixture.directory.remove() }
        // A well-behaved keep-alive client: a complete POST now, another request after the body deadline.
        let steady = try RawTCPClient(port: fixture.port, source: "127.0.0.7")
        defer { steady.close() }
        steady.send("POST /api/auth/request-code HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        let answered = steady.readResponse(timeoutSeconds: 10)
        #expect(answered?.hasPrefix("HTTP/1.1 400") == true, "\(answered ?? "closed")")

        let trickle = try RawTCPClient(port: fixture.port, source: "127.0.0.8")
        defer { trickle.close() }
        let started = Date()
        trickle.send("POST /api/auth/request-code HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        // One byte every 300 ms: far under any idle timeout, never a complete body.
        let sender = Task {
            for _ in 0..<60 {
                try await Task.sleep(for: .milliseconds(300))
                trickle.send(" ")
            }
        }
        let answer = try await Self.onThread { trickle.readUntilClosed(timeoutSeconds: 20) }
        sender.cancel()
        let elapsed = Date().timeIntervalSince(started)
        #expect(answer.closed)
        #expect(answer.text.hasPrefix("HTTP/1.1 408"), "\(answer.text)")
        #expect(answer.text.contains(#""code":"request_timeout""#), "\(answer.text)")
        #expect(elapsed >= 1.9 && elapsed < 15, "closed after \(elapsed) s")
        #expect(try fixture.bystanderHealth().ok)

        // The steady connection's body deadline was cancelled by its complete body: still served.
        let again = Self.keepAliveRequest(steady, "/health")
        #expect(again.ok, "\(again.answer)")
        #expect(try Self.limitHits("request_body_timeout", port: fixture.port, source: "127.0.0.9") == 1)
        #expect(await fixture.chatd.service.stop() == 0)
    }
}
