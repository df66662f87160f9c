import ChatCore
import Foundation
import Spawn
import Synchronization

/// The real python-socketio client (tools/testclients/scripted_client.py), driven from a test:
/// commands go to its stdin, everything it sees comes back as JSON lines.
public final class ScriptedSocketClient: @unchecked Sendable {
    // `process` and `input` are set up once in init; `lines` is guarded by its mutex.
    private let process: ChildProcess
    private let input: FileHandle
    private let lines = LineBuffer()

    public init(url: String, token: String, transports: String = "polling,websocket") throws {
        guard let root = RepositoryRoot.find() else { throw CocoaError(.fileNoSuchFile) }
        let python = ProcessInfo.processInfo.environment["CHATD_TEST_PYTHON"] ?? root.appendingPathComponent(".venv/bin/python3").path
        ignoreSIGPIPE()
        let stdin = Pipe()
        let output = Pipe()
        process = try ChildProcess(executable: python,
                                   arguments: [root.appendingPathComponent("tools/testclients/scripted_client.py").path,
                                               url, token, "--transports", transports],
                                   environment: ProcessInfo.processInfo.environment,
                                   stdin: .descriptor(stdin.fileHandleForReading.fileDescriptor),
                                   stdout: .descriptor(output.fileHandleForWriting.fileDescriptor), stderr: .null)
        // The child holds its own copies; ours would keep the reader below from ever seeing EOF.
        try? stdin.fileHandleForReading.close()
        try? output.fileHandleForWriting.close()
        input = stdin.fileHandleForWriting
        let reader = output.fileHandleForReading
        let lines = self.lines
        Thread.detachNewThread {
            var pending = Data()
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = pending[pending.startIndex..<newline]
                    pending = Data(pending[(newline + 1)...])
                    if let value = try? JSONValue.parse(line) { lines.append(value) }
                }
            }
        }
    }

    public var received: [JSONValue] { lines.all }

    /// Events named `name` received so far, with their payloads.
    public func events(_ name: String) -> [JSONValue] {
        received.filter { $0["event"]?.stringValue == name }.compactMap { $0["data"] }
    }

    /// Waits until a received line satisfies `predicate`; returns it.
    @discardableResult
    public func waitFor(timeout: Double = 30, _ predicate: @escaping (JSONValue) -> Bool) async throws -> JSONValue {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let found = received.first(where: predicate) { return found }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw ScriptedClientError.timedOut(received: received.map { $0.serialized() })
    }

    public func waitForEvent(_ name: String, timeout: Double = 30, where predicate: @escaping (JSONValue) -> Bool = { _ in true })
        async throws -> JSONValue
    {
        let line = try await waitFor(timeout: timeout) { $0["event"]?.stringValue == name && predicate($0["data"] ?? .null) }
        return line["data"] ?? .null
    }

    /// A client that already exited gets nothing: the write fails with EPIPE (SIGPIPE is ignored since
    /// `init`) instead of killing the whole test process (a clean-clone run died of one), and the test
    /// sees the missing answer.
    public func send(_ command: JSONValue) {
        try? input.write(contentsOf: Data((command.serialized() + "\n").utf8))
    }

    public func emit(_ event: String, _ data: JSONValue, ack: Bool = false) {
        send(["emit": .string(event), "data": data, "ack": .bool(ack)])
    }

    public func disconnect() { send(["disconnect": true]) }

    public func stop() async {
        try? input.close()
        let killer = process.send(SIGKILL, after: 3)
        await process.wait()
        killer.cancel()
    }

    deinit {
        process.send(SIGKILL)
    }
}

public enum ScriptedClientError: Error, CustomStringConvertible {
    case timedOut(received: [String])

    public var description: String {
        switch self {
        case .timedOut(let received): "timed out; the client received:\n" + received.joined(separator: "\n")
        }
    }
}

/// chat3-sim as a process on a free port.
public final class Chat3SimProcess: Sendable {
    public let service: ServiceProcess
    public let port: Int
    public let apiKey: String
    public var apiURL: String { "http://127.0.0.1:\(port)/api" }

    init(service: ServiceProcess, port: Int, apiKey: String) {
        self.service = service
        self.port = port
        self.apiKey = apiKey
    }

    public static func start(arguments: [String] = [], logURL: URL, port: Int = 0) async throws -> Chat3SimProcess {
        let key = "chat3_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let service = try ServiceProcess(ChatBinaries.path("chat3-sim"),
                                         ["--port", String(port), "--api-key", key, "--publish-delay-ms", "10"] + arguments,
                                         environment: [:], logURL: logURL)
        let port = try await service.waitForLine("listening on 127.0.0.1:([0-9]+)")
        return Chat3SimProcess(service: service, port: Int(port)!, apiKey: key)
    }
}

/// Lines received from a child, shared between its reader thread and the test.
final class LineBuffer: Sendable {
    private let lines = Mutex<[JSONValue]>([])
    func append(_ line: JSONValue) { lines.withLock { $0.append(line) } }
    var all: [JSONValue] { lines.withLock { $0 } }
}
