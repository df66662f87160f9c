import ChatCore
import Foundation
import Testing
import TestSupport

/// chatd as systemd or a developer runs it: the real binary, its log, signals and exit codes.
@Suite("chatd process")
struct ChatdProcessTests {
    func baseEnvironment(_ directory: TemporaryDirectory) -> [String: String] {
        [
            "CHATD_STORE": "sqlite://\(directory.path("users.sqlite"))",
            "CHATD_STATE_DIR": directory.url.path,
            "CHATD_CONFIG": "/dev/null",
            "CHATD_CONTROL_SOCKET": directory.path("chatd.sock"),
        ]
    }

    @Test("under --dev chatd logs one ready line, serves /health, keeps one 0600 secret across restarts, and exits 0 on SIGTERM")
    func devLifecycle() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let env = baseEnvironment(directory)
        let first = try await ChatdProcess.start(arguments: ["--dev"], environment: env, logURL: directory.url.appendingPathComponent("1.log"))
        let health = try await HTTPTestClient.send("GET", "\(first.baseURL)/health")
        #expect(health.status == 200)
        #expect(first.service.log.components(separatedBy: "chatd ready").count == 2)
        let secretPath = directory.path("dev-jwt-secret")
        let attributes = try FileManager.default.attributesOfItem(atPath: secretPath)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let secret = try String(contentsOfFile: secretPath, encoding: .utf8)
        #expect(secret.utf8.count >= 32)
        #expect(await first.service.stop() == 0)

        let second = try await ChatdProcess.start(arguments: ["--dev"], environment: env, logURL: directory.url.appendingPathComponent("2.log"))
        #expect(try String(contentsOfFile: secretPath, encoding: .utf8) == secret)
        #expect(await second.service.stop() == 0)
    }

    @Test("an invalid configuration makes chatd exit 78 with a message naming the key", arguments: [
        (["PORT": "99999"], "server.port"),
        (["JWT_SECRET": "too-short"], "jwt.secret"),
        (["SMS_SENDER": "carrier-pigeon"], "sms.sender"),
        (["CHATD_STORE": "redis://x"], "store.url"),
    ])
    func badConfig(extra: [String: String], key: String) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var env = baseEnvironment(directory)
        env["JWT_SECRET"] = String(repeating: "s", count: 40)
        env["SMS_SENDER"] = "command"
        env["SMS_COMMAND"] = "/bin/true"
        env["PORT"] = "0"
        env.merge(extra) { $1 }
        let result = try await runCommand(ChatBinaries.path("chatd"), [], environment: env, timeoutSeconds: 30)
        #expect(result.status == 78)
        #expect(result.stderr.contains(key), "\(result.stderr)")
    }

    @Test("without a JWT secret and without --dev chatd refuses to start with 78")
    func noSecret() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var env = baseEnvironment(directory)
        env["SMS_SENDER"] = "command"
        env["SMS_COMMAND"] = "/bin/true"
        let result = try await runCommand(ChatBinaries.path("chatd"), ["--port", "0"], environment: env, timeoutSeconds: 30)
        #expect(result.status == 78)
        #expect(result.stderr.contains("jwt.secret"))
    }

    @Test("a scripted login with SMS_SENDER=command returns a token that chatctl token inspect accepts")
    func scriptedLogin() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var env = baseEnvironment(directory)
        env["JWT_SECRET"] = String(repeating: "q", count: 48)
        env["SMS_SENDER"] = "command"
        env["SMS_COMMAND"] = "echo \"$SMS_PHONE $SMS_CODE\" >> '\(directory.path("sms.txt"))'"
        let chatd = try await ChatdProcess.start(environment: env, logURL: directory.url.appendingPathComponent("chatd.log"))
        let requested = try await HTTPTestClient.json("POST", "\(chatd.baseURL)/api/auth/request-code",
                                                       ["phone": "+7 900 765-43-21", "name": "Ann"])
        #expect(requested.status == 200)
        let line = try #require(try String(contentsOfFile: directory.path("sms.txt"), encoding: .utf8)
            .split(separator: "\n").last)
        let parts = line.split(separator: " ")
        #expect(parts[0] == "79007654321")
        let verified = try await HTTPTestClient.json("POST", "\(chatd.baseURL)/api/auth/verify-code",
                                                      ["phone": "79007654321", "code": .string(String(parts[1]))])
        #expect(verified.status == 200)
        let token = try #require(verified.json?["token"]?.stringValue)
        // The code never reaches chatd's log.
        #expect(!chatd.service.log.contains(" \(parts[1])"))

        let inspected = try await runCommand(ChatBinaries.path("chatctl"), ["token", "inspect", token, "--json"], environment: env)
        #expect(inspected.status == 0, "\(inspected.stderr)")
        #expect(try JSONValue.parse(inspected.stdout)["valid"] == true)

        let revoked = try await runCommand(ChatBinaries.path("chatctl"), ["token", "revoke", token], environment: env)
        #expect(revoked.status == 0)
        let me = try await HTTPTestClient.json("GET", "\(chatd.baseURL)/api/auth/me", token: token)
        #expect(me.status == 401)
        let inspectedAgain = try await runCommand(ChatBinaries.path("chatctl"), ["token", "inspect", token], environment: env)
        #expect(inspectedAgain.status == 1)
        #expect(inspectedAgain.stdout.contains("revoked"))
        #expect(await chatd.service.stop() == 0)
    }
}

extension ChatdProcessTests {
    @Test("chatd's log and its startup errors show a URL's host and port but never its password")
    func secretsMaskedInLogs() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var env = baseEnvironment(directory)
        env["JWT_SECRET"] = String(repeating: "m", count: 40)
        env["SMS_SENDER"] = "webhook"
        env["SMS_WEBHOOK_URL"] = "http://sms:webhook-pw-5e1@127.0.0.1:9/send"
        // Nothing listens on port 9: chatd logs the broker it cannot reach, at debug with every detail.
        env["RABBITMQ_URL"] = "amqp://chatd:amqp-pw-3f8@127.0.0.1:9/"
        let chatd = try await ChatdProcess.start(arguments: ["--log-level", "debug"], environment: env,
                                                 logURL: directory.url.appendingPathComponent("chatd.log"))
        _ = try await HTTPTestClient.json("POST", "\(chatd.baseURL)/api/auth/request-code", ["phone": "79007654323", "name": "Ann"])
        try await Task.sleep(for: .seconds(1))
        #expect(await chatd.service.stop() == 0)
        let log = chatd.service.log
        #expect(log.contains("127.0.0.1:9"), "the log names the broker: \(log.suffix(2000))")
        #expect(!log.contains("amqp-pw-3f8") && !log.contains("webhook-pw-5e1"))

        // A startup error quoting a store URL: the password is masked, the host and port stay.
        var broken = env
        broken["CHATD_STORE"] = "mongodb://admin:mongo-pw-77a@127.0.0.1:9/chat"
        let failed = try await runCommand(ChatBinaries.path("chatd"), ["--port", "0"], environment: broken, timeoutSeconds: 60)
        #expect(failed.status != 0)
        #expect(!failed.stderr.contains("mongo-pw-77a"), "\(failed.stderr)")
        #expect(failed.stderr.contains("127.0.0.1:9"), "\(failed.stderr)")
    }

    @Test("the SMS command sees PATH, the locale, SMS_PHONE and SMS_CODE, and none of chatd's secrets")
    func smsCommandEnvironment() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var env = baseEnvironment(directory)
        let secrets = ["JWT_SECRET": String(repeating: "z", count: 48), "CHAT3_API_KEY": "chat3-key-4b7f9e",
                       "RABBITMQ_URL": "amqp://chatd:broker-pass-91c2@127.0.0.1:5672/",
                       "RABBITMQ_MANAGEMENT_URL": "http://guest:mgmt-pass-77d1@127.0.0.1:15672"]
        env.merge(secrets) { $1 }
        env["LC_ALL"] = "C.UTF-8"
        env["SMS_SENDER"] = "command"
        // The test program: writes its whole environment, one NAME=value per line (NUL-separated).
        env["SMS_COMMAND"] = "/usr/bin/env -0 > '\(directory.path("env.txt"))'"
        let chatd = try await ChatdProcess.start(environment: env, logURL: directory.url.appendingPathComponent("chatd.log"))
        let requested = try await HTTPTestClient.json("POST", "\(chatd.baseURL)/api/auth/request-code",
                                                       ["phone": "79007654322", "name": "Ann"])
        #expect(requested.status == 200)
        let printed = try String(contentsOfFile: directory.path("env.txt"), encoding: .utf8)
        let variables = Dictionary(printed.split(separator: "\0").map { entry in
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }, uniquingKeysWith: { $1 })
        #expect(variables["SMS_PHONE"] == "79007654322")
        #expect(variables["SMS_CODE"]?.count == 4)
        #expect(variables["PATH"] != nil)
        #expect(variables["LC_ALL"] == "C.UTF-8")
        // /bin/sh may add PWD, SHLVL and _ itself; nothing else of chatd's may arrive.
        let unexpected = Set(variables.keys).subtracting(["SMS_PHONE", "SMS_CODE", "PATH", "LANG", "LANGUAGE", "PWD", "SHLVL", "_"])
            .filter { !$0.hasPrefix("LC_") }
        #expect(unexpected.isEmpty, "\(unexpected.sorted())")
        for (name, secret) in secrets {
            #expect(!printed.contains(secret), "\(name) reached the SMS program")
        }
        #expect(!printed.contains("broker-pass-91c2") && !printed.contains("mgmt-pass-77d1"))
        #expect(await chatd.service.stop() == 0)
    }
}

/// A datagram socket standing in for systemd's notify socket.
final class FakeNotifySocket: @unchecked Sendable {
    // The descriptor is only read by `receive` and closed once by `close`.
    let path: String
    let descriptor: Int32

    init(path: String) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Messages received within `seconds`.
    func receive(for seconds: Double) -> [String] {
        var messages: [String] = []
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count > 0 { messages.append(String(decoding: buffer[0..<count], as: UTF8.self)) }
        }
        return messages
    }

    func close() {
        _ = Glibc.close(descriptor)
        unlink(path)
    }
}

@Suite("chatd under systemd")
struct ChatdSystemdTests {
    @Test("chatd sends READY=1 to NOTIFY_SOCKET when serving, pings the watchdog, and STOPPING=1 on SIGTERM")
    func notify() async throws {
        let directory = try TemporaryDirectory("notify")
        defer { directory.remove() }
        let notifySocket = try FakeNotifySocket(path: directory.path("notify.sock"))
        defer { notifySocket.close() }
        let env = [
            "CHATD_STORE": "sqlite://\(directory.path("users.sqlite"))", "CHATD_STATE_DIR": directory.url.path,
            "CHATD_CONFIG": "/dev/null", "NOTIFY_SOCKET": notifySocket.path, "WATCHDOG_USEC": "1000000",
        ]
        let chatd = try await ChatdProcess.start(arguments: ["--dev"], environment: env, logURL: directory.url.appendingPathComponent("chatd.log"))
        let early = notifySocket.receive(for: 1.5)
        #expect(early.contains { $0.hasPrefix("READY=1") })
        #expect(early.contains("WATCHDOG=1"))
        #expect(await chatd.service.stop() == 0)
        #expect(notifySocket.receive(for: 0.5).contains("STOPPING=1"))
    }
}
