import ChatConfig
import ChatStore
import Foundation

/// What a command may touch besides its arguments: output streams, environment, the terminal.
/// Injected so tests run commands in-process with captured output.
public struct CTLContext: Sendable {
    public var environment: [String: String]
    public var write: @Sendable (String) -> Void
    public var writeError: @Sendable (String) -> Void
    public var stdinIsTerminal: Bool
    public var readLine: @Sendable () -> String?

    public init(environment: [String: String], write: @escaping @Sendable (String) -> Void,
                writeError: @escaping @Sendable (String) -> Void, stdinIsTerminal: Bool,
                readLine: @escaping @Sendable () -> String? = { Swift.readLine() }) {
        self.environment = environment
        self.write = write
        self.writeError = writeError
        self.stdinIsTerminal = stdinIsTerminal
        self.readLine = readLine
    }

    public func print(_ line: String) { write(line + "\n") }
    public func log(_ line: String) { writeError(line + "\n") }

    /// Asks a yes/no question on stderr; only called when stdin is a terminal.
    public func confirm(_ question: String) -> Bool {
        writeError("\(question) [y/N] ")
        return ["y", "yes"].contains(readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? "")
    }
}
