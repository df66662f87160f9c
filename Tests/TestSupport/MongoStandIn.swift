import Foundation
import Synchronization
import Testing

/// The MongoDB wire-protocol stand-in (`tools/mongo-standin.py`: mockupdb + mongomock) as a fixture.
/// Real libmongoc clients connect to it; each test uses its own database name, so one stand-in can
/// serve a whole suite. Stopped by PID (terminate, then wait); it also exits when our end of its
/// standard input closes, so a crashed test run leaves nothing behind.
public final class MongoStandIn: Sendable {
    public enum StartError: Error, CustomStringConvertible {
        case noRepositoryRoot
        case noPython(String)
        case noPort(String)

        public var description: String {
            switch self {
            case .noRepositoryRoot: "cannot find the folder holding Package.swift above the test sources"
            case .noPython(let path):
                "no Python at \(path): run `make test` (or create .venv with mockupdb, mongomock and pymongo), "
                    + "or set CHATD_TEST_PYTHON"
            case .noPort(let why): "the MongoDB stand-in did not report its port: \(why)"
            }
        }
    }

    public let port: Int
    public var pid: Int32 { child.process.processIdentifier }
    private let child: Child

    /// `Process` is not Sendable; this box only calls `terminate` and reads `isRunning` and the pid,
    /// which Foundation allows from any thread, after `run()` has returned.
    private final class Child: @unchecked Sendable {
        let process: Process
        let stdin: Pipe
        /// Signalled by the termination handler. Waiting on it blocks a dispatch thread, where
        /// `waitUntilExit` would spin a run loop on a cooperative one.
        let exited = DispatchSemaphore(value: 0)

        init(process: Process, stdin: Pipe) {
            self.process = process
            self.stdin = stdin
        }
    }

    /// The stand-in of the innermost `.mongoStandIn` scope, if any.
    @TaskLocal public static var current: MongoStandIn?

    private init(port: Int, child: Child) {
        self.port = port
        self.child = child
    }

    /// A URL for `database` on this stand-in.
    public func url(database: String) -> String {
        "mongodb://127.0.0.1:\(port)/\(database)"
    }

    /// Starts a stand-in and waits (up to 30 s) for the port it listens on.
    public static func start() async throws -> MongoStandIn {
        guard let root = RepositoryRoot.find() else { throw StartError.noRepositoryRoot }
        let python = ProcessInfo.processInfo.environment["CHATD_TEST_PYTHON"]
            ?? root.appendingPathComponent(".venv/bin/python3").path
        guard FileManager.default.isExecutableFile(atPath: python) else { throw StartError.noPython(python) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [root.appendingPathComponent("tools/mongo-standin.py").path,
                             "--port", "0", "--exit-on-stdin-eof"]
        let stdout = Pipe()
        let stdin = Pipe()
        process.standardOutput = stdout
        process.standardInput = stdin
        let child = Child(process: process, stdin: stdin)
        process.terminationHandler = { [child] _ in child.exited.signal() }
        try launchSerialized(process)

        let reader = stdout.fileHandleForReading
        let reported = ReportedFlag()
        let line: String? = await withCheckedContinuation { continuation in
            // A blocking read, on its own thread rather than the cooperative pool.
            Thread.detachNewThread {
                var bytes = Data()
                while !bytes.contains(UInt8(ascii: "\n")) {
                    let chunk = reader.availableData
                    if chunk.isEmpty { break }
                    bytes.append(chunk)
                }
                reported.value.store(true, ordering: .sequentiallyConsistent)
                continuation.resume(returning: String(data: bytes, encoding: .utf8))
            }
            // Unblocks the read if the stand-in never reports a port.
            let deadline = DispatchTime.now() + .seconds(30)
            DispatchQueue.global().asyncAfter(deadline: deadline) { [child] in
                if !reported.value.load(ordering: .sequentiallyConsistent) { child.process.terminate() }
            }
        }
        let text = line?.split(separator: "\n").first.map(String.init) ?? ""
        guard text.hasPrefix("PORT "), let port = Int(text.dropFirst(5)), port > 0 else {
            await stop(child)
            throw StartError.noPort(text.isEmpty ? "it exited or printed nothing" : "it printed \(text)")
        }
        return MongoStandIn(port: port, child: child)
    }

    /// Terminates the stand-in (SIGTERM, then SIGKILL after 10 s) and waits for it to exit.
    public func stop() async {
        await Self.stop(child)
    }

    private static func stop(_ child: Child) async {
        if child.process.isRunning { child.process.terminate() }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                if child.exited.wait(timeout: .now() + .seconds(10)) == .timedOut {
                    kill(child.process.processIdentifier, SIGKILL)
                    child.exited.wait()
                }
                // Leave it signalled, so stopping twice does not wait forever.
                child.exited.signal()
                continuation.resume()
            }
        }
        try? child.stdin.fileHandleForWriting.close()
    }

    /// Runs `body` with a fresh stand-in, stopped afterwards whatever happens.
    public static func with<T>(_ body: (MongoStandIn) async throws -> T) async throws -> T {
        let standIn = try await start()
        do {
            let result = try await body(standIn)
            await standIn.stop()
            return result
        } catch {
            await standIn.stop()
            throw error
        }
    }
}

private final class ReportedFlag: Sendable {
    let value = Atomic(false)
}

/// Runs a suite (or test) with one stand-in, reachable as `MongoStandIn.current`, stopped at the end.
public struct MongoStandInScope: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { false }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        try await MongoStandIn.with { standIn in
            try await MongoStandIn.$current.withValue(standIn) { try await function() }
        }
    }
}

extension Trait where Self == MongoStandInScope {
    /// One MongoDB stand-in for the whole suite.
    public static var mongoStandIn: Self { Self() }
}
