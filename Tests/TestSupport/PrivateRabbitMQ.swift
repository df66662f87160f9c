import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A RabbitMQ node of a test's own (Debian's rabbitmq-server, a second node name and free ports), for
/// tests that stop the broker with `rabbitmqctl stop_app`/`start_app` without disturbing the shared
/// broker the other suites use meanwhile. No plugins; listens on 127.0.0.1 only. `stop()` ends it.
public final class PrivateRabbitMQ: Sendable {
    public let nodeName: String
    public let port: Int
    public let directory: TemporaryDirectory
    public var amqpURL: String { "amqp://guest:guest@127.0.0.1:\(port)/" }

    private init(nodeName: String, port: Int, directory: TemporaryDirectory) {
        self.nodeName = nodeName
        self.port = port
        self.directory = directory
    }

    /// Starts the node and waits until it serves (about 5 s on an idle machine, more under load).
    public static func start(timeoutSeconds: Double = 180) async throws -> PrivateRabbitMQ {
        let directory = try TemporaryDirectory("rabbitmq-node")
        let port = try freeTCPPort(), distributionPort = try freeTCPPort()
        let nodeName = "chatdtest\(port)@localhost"
        try "[].".write(toFile: directory.path("enabled_plugins"), atomically: true, encoding: .utf8)
        // Debian's wrapper runs the node as the rabbitmq user, which must own its directories.
        _ = try await runCommand("/bin/chown", ["-R", "rabbitmq", directory.url.path])
        let environment = [
            "RABBITMQ_NODENAME": nodeName,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": "\(port)",
            "RABBITMQ_DIST_PORT": "\(distributionPort)",
            "RABBITMQ_MNESIA_BASE": directory.path("mnesia"),
            "RABBITMQ_LOG_BASE": directory.path("log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": directory.path("enabled_plugins"),
            "RABBITMQ_PID_FILE": directory.path("pid"),
        ]
        let node = PrivateRabbitMQ(nodeName: nodeName, port: port, directory: directory)
        // Through Python's subprocess, which closes every inherited descriptor: the detached node would
        // otherwise keep the test process's descriptors open, among them the pipe Foundation watches to
        // notice this very command's exit, which then never comes.
        let started = try await runCommand("/usr/bin/python3", [
            "-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:], close_fds=True))",
            "/usr/sbin/rabbitmq-server", "-detached",
        ], environment: environment)
        guard started.status == 0 else {
            directory.remove()
            throw RabbitMQFixtureError.commandFailed("rabbitmq-server -detached: \(started.stderr)")
        }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            // Each rabbitmqctl boots an Erlang VM of its own, which under a full test run can take more
            // than 10 s by itself: a try gets the time that is left (a CI run's node never came up when
            // every try was cut at 10 s).
            let left = max(10, deadline.timeIntervalSinceNow)
            let awaited = try? await node.control("await_startup", ["-t", "\(Int(left))"], timeoutSeconds: left + 10)
            if awaited?.status == 0 { return node }
            try await Task.sleep(for: .milliseconds(300))
        }
        // What the node said about it goes with the error: its directory is gone after `stop`.
        let logs = node.logTail()
        await node.stop()
        throw RabbitMQFixtureError.unavailable("the private RabbitMQ node \(nodeName) did not start in \(timeoutSeconds) s\n\(logs)")
    }

    /// The last lines of each of the node's log files.
    func logTail(lines: Int = 30) -> String {
        let logDirectory = directory.path("log")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: logDirectory)) ?? []
        return names.sorted().map { name in
            let text = (try? String(contentsOfFile: logDirectory + "/" + name, encoding: .utf8)) ?? ""
            return "== \(name)\n" + text.split(separator: "\n").suffix(lines).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// Stops the RabbitMQ application; the Erlang node stays (what `rabbitmqctl stop_app` does).
    public func stopApp() async throws { try await expectSuccess("stop_app") }

    public func startApp() async throws { try await expectSuccess("start_app") }

    /// Stops the node and removes its files; kills it by PID if it does not stop.
    public func stop() async {
        _ = try? await control("stop", timeoutSeconds: 30)
        if let text = try? String(contentsOfFile: directory.path("pid"), encoding: .utf8),
           let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, 0) == 0 {
            kill(pid, SIGKILL)
        }
        directory.remove()
    }

    private func expectSuccess(_ command: String) async throws {
        let result = try await control(command, timeoutSeconds: 60)
        guard result.status == 0 else {
            throw RabbitMQFixtureError.commandFailed("rabbitmqctl \(command): \(result.stderr)")
        }
    }

    private func control(_ command: String, _ options: [String] = [], timeoutSeconds: Double) async throws -> CommandResult {
        try await runCommand("/usr/sbin/rabbitmqctl", ["-q", "-n", nodeName] + options + [command],
                             timeoutSeconds: timeoutSeconds)
    }
}

/// A TCP port nobody listens on right now (bound to port 0, then released).
public func freeTCPPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw RabbitMQFixtureError.commandFailed("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else { throw RabbitMQFixtureError.commandFailed("cannot bind a free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}
