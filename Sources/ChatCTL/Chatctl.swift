import ArgumentParser
import ChatCore
import Foundation

/// The operators' CLI for chatd.
public struct Chatctl: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "chatctl",
        abstract: "Manage chatd: users, migrations, tokens, queues and the running daemon.",
        version: ChatctlVersion.current,
        subcommands: [UserCommand.self, MigrateCommand.self, TokenCommand.self, QueueCommand.self, DaemonCommand.self,
                      ConfigCommand.self, DocsCommand.self])

    public init() {}
}

public enum ChatctlVersion {
    public static let current = "0.1.0"
}

/// Parses argv, runs the command with a context, and turns every error into one stderr line and an exit status.
public enum ChatctlMain {
    public static func run(_ arguments: [String], context: CTLContext) async -> Int32 {
        let command: any ParsableCommand
        do {
            command = try Chatctl.parseAsRoot(arguments)
        } catch {
            let code = Chatctl.exitCode(for: error)
            let message = Chatctl.fullMessage(for: error)
            if code == .success { context.print(message) } else { context.log(message) }
            return code.rawValue
        }
        guard let runnable = command as? any CTLCommand else {
            // ArgumentParser's own commands (help, a group without a subcommand) print help themselves.
            do {
                var builtIn = command
                try builtIn.run()
                return 0
            } catch {
                let code = Chatctl.exitCode(for: error)
                let message = Chatctl.fullMessage(for: error)
                if code == .success { context.print(message) } else { context.log(message) }
                return code.rawValue
            }
        }
        do {
            try await runnable.run(context)
            return 0
        } catch {
            let failure = CTLError(error)
            // Several problems (config check) are one line each; a URL's password never reaches the terminal.
            for line in SecretMask.urlPasswords(in: failure.message).split(separator: "\n") { context.log("chatctl: \(line)") }
            return failure.exitStatus
        }
    }
}
