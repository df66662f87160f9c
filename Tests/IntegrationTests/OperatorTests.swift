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

/// Admin commands open the store chatd made; they never make one by accident.
@Suite("chatctl and the store file")
struct AdminStoreTests {
    let chatctl = ChatBinaries.path("chatctl")

    @Test("chatctl user list on a mistyped sqlite path exits 66 naming the path, and creates neither the file nor its folder")
    func mistypedPath() async throws {
        let directory = try TemporaryDirectory("ops-missing")
        defer { directory.remove() }
        let path = directory.path("nonexistent/x.sqlite")
        let result = try await runCommand(chatctl, ["user", "list", "--store", "sqlite://\(path)"],
                                          environment: ["CHATD_CONFIG": "/dev/null"])
        #expect(result.status == 66, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains(path))
        #expect(result.stderr.contains("--create-store"))
        #expect(!FileManager.default.fileExists(atPath: directory.path("nonexistent")))

        let created = try await runCommand(chatctl, ["user", "list", "--create-store", "--json", "--store", "sqlite://\(path)"],
                                           environment: ["CHATD_CONFIG": "/dev/null"])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(try JSONValue.parse(created.stdout).arrayValue?.isEmpty == true)
        #expect(Self.mode(path) == 0o600)
    }

    @Test("a store the caller cannot write exits 77 with a hint naming chatd's group")
    func notWritable() async throws {
        let directory = try TemporaryDirectory("ops-readonly")
        defer { directory.remove() }
        chmod(directory.url.path, 0o755)
        let path = directory.path("users.sqlite")
        let store = "sqlite://\(path)"
        let made = try await runCommand(chatctl, ["migrate", "up", "--create-store", "--store", store],
                                        environment: ["CHATD_CONFIG": "/dev/null"])
        #expect(made.status == 0, "\(made.stderr)")
        // As nobody, with no supplementary groups: the 0600 root-owned store is out of reach.
        let result = try await runCommand("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--",
                                                               chatctl, "user", "list", "--store", store],
                                          environment: ["CHATD_CONFIG": "/dev/null"])
        #expect(result.status == 77, "\(result.stderr)")
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains(path))
        #expect(result.stderr.contains("group"))
    }

    @Test("chatd creates its SQLite store 0600, or 0660 owned by the operator group when that group exists; -wal and -shm alike")
    func storeFileModes() async throws {
        for group in ["no-such-group-here", "users"] {
            let directory = try TemporaryDirectory("ops-modes")
            defer { directory.remove() }
            var env = OperatorTests.environment(directory)
            env["CHATD_OPERATOR_GROUP"] = group
            let chatd = try await ChatdProcess.start(environment: env, logURL: directory.url.appendingPathComponent("chatd.log"))
            let expected: Int = group == "users" ? 0o660 : 0o600
            for suffix in ["", "-wal", "-shm"] {
                let path = directory.path("users.sqlite" + suffix)
                #expect(Self.mode(path) == expected, "\(path) with group \(group)")
                if group == "users" {
                    let owner = try FileManager.default.attributesOfItem(atPath: path)[.groupOwnerAccountName] as? String
                    #expect(owner == "users", "\(path)")
                }
            }
            #expect(await chatd.service.stop() == 0)
        }
    }

    static func mode(_ path: String) -> Int? {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? NSNumber)?.intValue
    }
}

/// What chatd says about itself before and instead of serving.
@Suite("chatd startup messages")
struct ChatdStartupTests {
    @Test("chatd --version prints the version and exits 0")
    func version() async throws {
        let result = try await runCommand(ChatBinaries.path("chatd"), ["--version"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).wholeMatch(of: /[0-9]+\.[0-9]+\.[0-9]+.*/) != nil,
                "\(result.stdout)")
    }

    @Test("a port in use makes chatd exit 73 with one error line naming the address and the cause")
    func portInUse() async throws {
        let directory = try TemporaryDirectory("ops-bind")
        defer { directory.remove() }
        // The port is held by a listening socket of this test.
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, length) == 0 && listen(holder, 1) == 0
                && getsockname(holder, $0, &length) == 0 }
        }
        try #require(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let result = try await runCommand(ChatBinaries.path("chatd"), ["--port", "\(port)", "--host", "127.0.0.1"],
                                          environment: OperatorTests.environment(directory), timeoutSeconds: 60)
        #expect(result.status == 73, "\(result.stderr)")
        let problems = result.stderrLines.filter { line in
            [" error ", " critical ", "Error:", "error=", "Cancellation"].contains { line.contains($0) }
        }
        #expect(problems.count == 1, "\(result.stderr)")
        #expect(problems.first?.contains("cannot listen on 127.0.0.1:\(port): address already in use") == true, "\(result.stderr)")
        #expect(!result.stderr.contains("chatd ready"))
    }
}

/// chatd's log as an operator reads it, on the real binary.
@Suite("chatd logs")
struct ChatdLogTests {
    static func unreachableBroker(_ directory: TemporaryDirectory) -> [String: String] {
        var env = OperatorTests.environment(directory)
        // Nothing listens on port 1: the broker stays unreachable for the whole test.
        env["RABBITMQ_URL"] = "amqp://guest:guest@127.0.0.1:1/"
        return env
    }

    @Test("with the broker unreachable: values with spaces are quoted, no Swift value dumps, one warning per connection for the outage, and a control action is logged with the caller's uid and pid")
    func logfmtLines() async throws {
        let directory = try TemporaryDirectory("ops-logs")
        defer { directory.remove() }
        let env = Self.unreachableBroker(directory)
        let chatd = try await ChatdProcess.start(environment: env, logURL: directory.url.appendingPathComponent("chatd.log"))
        defer { Task { await chatd.service.stop() } }
        // Long enough for several reconnect attempts (backoff 0.2 s doubling to 5 s).
        try await Task.sleep(for: .seconds(8))
        let reload = try await runCommand(ChatBinaries.path("chatctl"), ["daemon", "reload"], environment: env)
        #expect(reload.status == 0, "\(reload.stderr)")
        let action = try await chatd.service.waitForLine("(control action [^\n]*)")
        let log = chatd.service.log
        #expect(!log.contains("ChatAMQP."), "\(log)")
        #expect(!log.contains("stateChanged("), "\(log)")
        // Every key=value pair is either one plain word or a quoted string.
        for line in log.split(separator: "\n") where line.contains("error=") {
            #expect(line.contains("error=\""), "\(line)")
        }
        #expect(log.contains("error=\""), "\(log)")
        let outageWarnings = log.split(separator: "\n").filter {
            $0.contains("amqp consumer disconnected") && $0.contains("amqp.connection=\"chatd updates\"")
        }
        #expect(outageWarnings.count == 1, "\(log)")
        #expect(action.contains("control.action=reload"), "\(action)")
        #expect(action.contains("peer.uid=\(getuid())"), "\(action)")
        let pid = try #require(action.firstMatch(of: /peer\.pid=([0-9]+)/).flatMap { Int32($0.1) }, "\(action)")
        #expect(pid != chatd.service.pid && pid > 1)
    }

    @Test("under journald (JOURNAL_STREAM set) every line starts with its syslog priority and has no timestamp")
    func journalPriorities() async throws {
        let directory = try TemporaryDirectory("ops-journal")
        defer { directory.remove() }
        var env = Self.unreachableBroker(directory)
        env["JOURNAL_STREAM"] = "8:12345"
        let chatd = try await ChatdProcess.start(environment: env, logURL: directory.url.appendingPathComponent("chatd.log"))
        _ = try await chatd.service.waitForLine("<4>warning chatd: amqp consumer disconnected")
        #expect(await chatd.service.stop() == 0)
        let lines = chatd.service.log.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("<5>notice chatd: chatd ready ") }, "\(lines)")
        for line in lines {
            #expect(line.wholeMatch(of: /<[0-7]>(trace|debug|info|notice|warning|error|critical) .*/) != nil, "\(line)")
        }
    }

    @Test("log.format = json writes one JSON object per line with level, logger and msg")
    func jsonLines() async throws {
        let directory = try TemporaryDirectory("ops-json")
        defer { directory.remove() }
        var env = Self.unreachableBroker(directory)
        env["LOG_FORMAT"] = "json"
        let service = try ServiceProcess(ChatBinaries.path("chatd"), ["--port", "0", "--host", "127.0.0.1"],
                                         environment: env, logURL: directory.url.appendingPathComponent("chatd.log"))
        _ = try await service.waitForLine(#""msg":"chatd ready""#)
        _ = try await service.waitForLine(#""msg":"amqp consumer disconnected""#)
        #expect(await service.stop() == 0)
        let lines = service.log.split(separator: "\n")
        #expect(lines.count >= 3)
        for line in lines {
            let object = try JSONValue.parse(String(line))
            #expect(object["level"]?.stringValue != nil, "\(line)")
            #expect(object["logger"]?.stringValue != nil, "\(line)")
            #expect(object["msg"]?.stringValue != nil, "\(line)")
        }
        let ready = try #require(lines.first { $0.contains(#""msg":"chatd ready""#) })
        #expect(try JSONValue.parse(String(ready))["http.port"]?.stringValue?.isEmpty == false)
    }
}

/// `/metrics` of a freshly started chatd, before any traffic.
@Suite("chatd metrics at start")
struct StartMetricsTests {
    @Test("process_* series, chatd_build_info, every labelled counter at 0, and dependency and breaker gauges")
    func seriesAtStart() async throws {
        let directory = try TemporaryDirectory("ops-metrics")
        defer { directory.remove() }
        let chatd = try await ChatdProcess.start(environment: OperatorTests.environment(directory),
                                                 logURL: directory.url.appendingPathComponent("chatd.log"))
        defer { Task { await chatd.service.stop() } }
        // The default broker (127.0.0.1:5672) runs for the whole test suite.
        let text = try await MetricsProbe.waitFor(#"chatd_dependency_up{dependency="rabbitmq"} 1.0"#, at: chatd.baseURL,
                                                  timeoutSeconds: 30)
        func value(_ series: String) -> Double? { MetricsScrapeTests.value(series, in: text) }
        let rss = try #require(value("process_resident_memory_bytes"), "\(text)")
        #expect(rss > 1_000_000)
        #expect(try #require(value("process_virtual_memory_bytes")) > rss)
        #expect(try #require(value("process_cpu_seconds_total")) > 0)
        #expect(try #require(value("process_open_fds")) >= 3)
        #expect(try #require(value("process_max_fds")) >= 1024)
        let started = try #require(value("process_start_time_seconds"))
        #expect(abs(started - Date().timeIntervalSince1970) < 120, "\(started)")
        #expect(text.contains("# TYPE process_cpu_seconds_total counter"))
        #expect(value(#"chatd_build_info{version="0.1.0"}"#) == 1)
        for reason in ["malformed", "tenant", "duplicate", "no_socket"] {
            #expect(value(#"chatd_updates_dropped_total{reason="\#(reason)"}"#) == 0, "\(reason)")
        }
        for reason in ["invalid_code", "expired", "too_many_attempts", "rate_limited", "sender"] {
            #expect(value(#"chatd_auth_codes_failed_total{reason="\#(reason)"}"#) == 0, "\(reason)")
        }
        for kind in ["unavailable", "timeout", "breaker_open"] {
            #expect(value(#"chatd_chat3_errors_total{kind="\#(kind)"}"#) == 0, "\(kind)")
        }
        #expect(value(#"chatd_dependency_up{dependency="store"}"#) == 1)
        #expect(value(#"chatd_dependency_up{dependency="chat3"}"#) == 1)
        #expect(value(#"chatd_chat3_breaker_state{state="closed"}"#) == 1)
        #expect(value(#"chatd_chat3_breaker_state{state="open"}"#) == 0)
    }
}

/// `chatctl config check` as an operator uses it before a restart.
@Suite("chatctl config check")
struct ConfigCheckTests {
    let chatctl = ChatBinaries.path("chatctl")

    @Test("three bad values are reported together, one line each, with exit 78")
    func everyError() async throws {
        let directory = try TemporaryDirectory("ops-check")
        defer { directory.remove() }
        try "[server]\nport = 99999\n[log]\nlevel = \"loud\"\n".write(toFile: directory.path("chatd.toml"), atomically: true, encoding: .utf8)
        let result = try await runCommand(chatctl, ["config", "check", "--config", directory.path("chatd.toml")],
                                          environment: ["JWT_SECRET": "short", "SMS_SENDER": "command", "SMS_COMMAND": "/bin/true"])
        #expect(result.status == 78, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        let lines = result.stderrLines
        #expect(lines.count == 3, "\(result.stderr)")
        for key in ["server.port", "log.level", "jwt.secret"] {
            #expect(lines.contains { $0.hasPrefix("chatctl: config: \(key): ") }, "\(key): \(result.stderr)")
        }
    }

    @Test("URLs show user, host and port with the password masked; secrets show (set); derived values are shown")
    func maskedAndDerived() async throws {
        let directory = try TemporaryDirectory("ops-check")
        defer { directory.remove() }
        let env = [
            "CHATD_CONFIG": "/dev/null", "CHATD_DEV": "1", "CHATD_STATE_DIR": directory.url.path,
            "RABBITMQ_URL": "amqp://chat:s3cret-amqp@rabbit.internal:5673/chat",
            "RABBITMQ_MANAGEMENT_URL": "http://ops:s3cret-mgmt@rabbit.internal:15672",
            "CHAT3_API_KEY": "s3cret-chat3-key",
        ]
        let result = try await runCommand(chatctl, ["config", "check", "--json"], environment: env)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.contains("s3cret"), "\(result.stdout)")
        let entries = try #require(try JSONValue.parse(result.stdout).arrayValue)
        func value(_ key: String) -> String? { entries.first { $0["key"]?.stringValue == key }?["value"]?.stringValue }
        func source(_ key: String) -> String? { entries.first { $0["key"]?.stringValue == key }?["source"]?.stringValue }
        #expect(value("rabbitmq.url") == "amqp://chat:***@rabbit.internal:5673/chat")
        #expect(value("rabbitmq.management_url") == "http://ops:***@rabbit.internal:15672")
        #expect(value("chat3.api_key") == "(set)")
        #expect(value("store.url") == "sqlite://\(directory.url.path)/chatd.sqlite")
        #expect(source("store.url") == "derived from state_dir")
        #expect(value("sms.sender") == "log")

        var mongo = env
        mongo["CHATD_STORE"] = "mongodb://admin:hunter2@db.internal:27017/chat"
        let table = try await runCommand(chatctl, ["config", "check"], environment: mongo)
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("mongodb://admin:***@db.internal:27017/chat"), "\(table.stdout)")
        #expect(!table.stdout.contains("hunter2"))
    }
}
