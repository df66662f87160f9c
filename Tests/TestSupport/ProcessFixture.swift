import Foundation
@_exported import Spawn
import Synchronization

/// The project's own executables, as built for this test run.
public enum ChatBinaries {
    /// `CHATD_BIN_DIR` (set by `make test`), else the debug build folder of this checkout.
    public static var directory: URL {
        if let dir = ProcessInfo.processInfo.environment["CHATD_BIN_DIR"] { return URL(fileURLWithPath: dir) }
        return (RepositoryRoot.find() ?? URL(fileURLWithPath: ".")).appendingPathComponent(".build/debug")
    }

    public static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}

/// What a finished command printed and how it exited.
public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String

    public var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
}

/// The environment every child of the tests gets: ours, with `extra` on top. libmongoc (in chatd and
/// chatctl) makes a shared-memory segment per process at load and warns on stderr when a killed test
/// process left one under a reused pid; the tests kill processes all the time, so that is turned off.
func childEnvironment(_ extra: [String: String]) -> [String: String] {
    ignoreSIGPIPE()
    return ProcessInfo.processInfo.environment.merging(["MONGOC_DISABLE_SHM": "1"]) { $1 }.merging(extra) { $1 }
}

/// Writes to a child that exited fail with EPIPE rather than kill the test process with SIGPIPE. NIO
/// ignores SIGPIPE too, but only once it opened its first socket, which a test writing to a child's
/// stdin early in a run may come before.
public func ignoreSIGPIPE() {
    _ = sigpipeIgnored
}

private let sigpipeIgnored: Bool = {
    signal(SIGPIPE, SIG_IGN)
    return true
}()

/// Runs a program to completion with extra environment, optional stdin text, and a timeout.
public func runCommand(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                       stdin: String? = nil, timeoutSeconds: Double = 60) async throws -> CommandResult {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cmd-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    // Files, not pipes: a chatty child can never block on a full pipe.
    let outURL = directory.appendingPathComponent("out"), errURL = directory.appendingPathComponent("err")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
    var input: FileHandle?
    if let stdin {
        let inURL = directory.appendingPathComponent("in")
        FileManager.default.createFile(atPath: inURL.path, contents: Data(stdin.utf8))
        input = try FileHandle(forReadingFrom: inURL)
    }
    let child = try ChildProcess(executable: executable, arguments: arguments,
                                 environment: childEnvironment(environment),
                                 stdin: input.map { .descriptor($0.fileDescriptor) } ?? .null,
                                 stdout: .descriptor(out.fileDescriptor), stderr: .descriptor(err.fileDescriptor))
    try? out.close(); try? err.close(); try? input?.close()
    let timeout = child.send(SIGKILL, after: timeoutSeconds)
    let termination = await child.wait()
    timeout.cancel()
    return CommandResult(status: termination.status,
                         stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                         stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
}

/// A long-running child (chatd, chat3-sim) whose stderr and stdout go to a log file the test can read.
/// Stopped by PID; `deinit` kills it if a test forgot.
public final class ServiceProcess: Sendable {
    public let child: ChildProcess
    public let logURL: URL
    private let stopped = Atomic(false)

    public var pid: Int32 { child.pid }
    public var isRunning: Bool { child.isRunning }
    /// The exit code (or the signal's number); nil while it runs.
    public var exitStatus: Int32? { child.termination?.status }

    public init(_ executable: String, _ arguments: [String], environment: [String: String], logURL: URL) throws {
        self.logURL = logURL
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logURL)
        defer { try? handle.close() }
        child = try ChildProcess(executable: executable, arguments: arguments,
                                 environment: childEnvironment(environment),
                                 stdin: .null, stdout: .descriptor(handle.fileDescriptor),
                                 stderr: .descriptor(handle.fileDescriptor))
    }

    public var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// Waits until the log has a line matching `pattern`, returning its first capture (or the line).
    public func waitForLine(_ pattern: String, timeoutSeconds: Double = 30) async throws -> String {
        let regex = try NSRegularExpression(pattern: pattern)
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            let text = log
            if let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) {
                let range = match.numberOfRanges > 1 ? match.range(at: 1) : match.range
                return String(text[Range(range, in: text)!])
            }
            if let ended = child.termination { throw ServiceProcessError.exited(status: ended.status, log: log) }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ServiceProcessError.timedOut(pattern: pattern, log: log)
    }

    /// Sends `signal` and waits for the exit status (SIGKILL after `graceSeconds`).
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, graceSeconds: Double = 10) async -> Int32 {
        if stopped.exchange(true, ordering: .sequentiallyConsistent) == false, child.isRunning {
            child.send(signal)
            let killer = child.send(SIGKILL, after: graceSeconds)
            await child.wait()
            killer.cancel()
        }
        return await child.wait().status
    }

    deinit {
        child.send(SIGKILL)
    }
}

public enum ServiceProcessError: Error, CustomStringConvertible {
    case exited(status: Int32, log: String)
    case timedOut(pattern: String, log: String)

    public var description: String {
        switch self {
        case .exited(let status, let log): "process exited with \(status):\n\(log)"
        case .timedOut(let pattern, let log): "timed out waiting for /\(pattern)/:\n\(log)"
        }
    }
}

/// A fresh temporary folder, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let url: URL

    public init(_ prefix: String = "chatd-test") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    public func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Starts chatd on a free port with `environment`, waiting for its ready line.
public final class ChatdProcess: Sendable {
    public let service: ServiceProcess
    public let port: Int
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    public init(service: ServiceProcess, port: Int) {
        self.service = service
        self.port = port
    }

    public static func start(arguments: [String] = [], environment: [String: String], logURL: URL) async throws -> ChatdProcess {
        let service = try ServiceProcess(ChatBinaries.path("chatd"), ["--port", "0", "--host", "127.0.0.1"] + arguments,
                                         environment: environment, logURL: logURL)
        let port = try await service.waitForLine("chatd ready http.port=([0-9]+)")
        return ChatdProcess(service: service, port: Int(port)!)
    }
}
