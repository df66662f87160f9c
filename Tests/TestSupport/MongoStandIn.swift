import Foundation
import Spawn
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
    public var pid: Int32 { child.process.pid }
    private let child: Child

    /// The stand-in and our end of its standard input (closing it makes the stand-in exit).
    private struct Child: Sendable {
        let process: ChildProcess
        let stdin: FileHandle
    }

    /// The stand-in of the innermost `.mongoStandIn` scope, if any.
    @TaskLocal public static var current: MongoStandIn?

    private init(port: Int, child: Child) {
        self.port = port
        self.child = child
    }

    /// A URL for `database` on this stand-in.
    /// The stand-in is Python (mongomock under the GIL): on a loaded CI machine one slow command can keep
    /// a new connection's handshake waiting past the driver's 2 s default, which the store reports as
    /// no server answering. The tests are about the store's answers, so they give it 20 s.
    public func url(database: String) -> String {
        "mongodb://127.0.0.1:\(port)/\(database)?serverSelectionTimeoutMS=20000&connectTimeoutMS=20000"
    }

    /// Starts a stand-in and waits (up to 30 s) for the port it listens on.
    public static func start() async throws -> MongoStandIn {
        guard let root = RepositoryRoot.find() else { throw StartError.noRepositoryRoot }
        let python = ProcessInfo.processInfo.environment["CHATD_TEST_PYTHON"]
            ?? root.appendingPathComponent(".venv/bin/python3").path
        guard FileManager.default.isExecutableFile(atPath: python) else { throw StartError.noPython(python) }

        ignoreSIGPIPE()
        let stdout = Pipe()
        let stdin = Pipe()
        let process = try ChildProcess(executable: python,
                                       arguments: [root.appendingPathComponent("tools/mongo-standin.py").path,
                                                   "--port", "0", "--exit-on-stdin-eof"],
                                       environment: ProcessInfo.processInfo.environment,
                                       stdin: .descriptor(stdin.fileHandleForReading.fileDescriptor),
                                       stdout: .descriptor(stdout.fileHandleForWriting.fileDescriptor),
                                       stderr: .inherit)
        // The child has its own copies; ours would keep its stdin open and our reads from never ending.
        try? stdin.fileHandleForReading.close()
        try? stdout.fileHandleForWriting.close()
        let child = Child(process: process, stdin: stdin.fileHandleForWriting)

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
                if !reported.value.load(ordering: .sequentiallyConsistent) { child.process.send(SIGTERM) }
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
        child.process.send(SIGTERM)
        let killer = child.process.send(SIGKILL, after: 10)
        await child.process.wait()
        killer.cancel()
        try? child.stdin.close()
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
