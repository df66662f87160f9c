import ArgumentParser
import ChatControl
import ChatCore
import ChatStore

struct UserDisable: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "disable", abstract: "Disable a user: no login, tokens refused, and a running chatd closes their sockets.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The userId (usr_…).") var userId: String

    func run(_ context: CTLContext) async throws {
        try await UserStatusChange.apply(.disabled, userId, global, context)
    }
}

struct UserEnable: CTLCommand {
    static let configuration = CommandConfiguration(commandName: "enable", abstract: "Enable a disabled user.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The userId (usr_…).") var userId: String

    func run(_ context: CTLContext) async throws {
        try await UserStatusChange.apply(.active, userId, global, context)
    }
}

enum UserStatusChange {
    static func apply(_ status: UserStatus, _ userId: String, _ global: GlobalOptions, _ context: CTLContext) async throws {
        let id = try parseUserID(userId)
        let store = try await global.openStore(context)
        defer { Task { await store.close() } }
        UserPrinter.print(try await store.setStatus(id: id, to: status), json: global.json, context)
        if status == .disabled { try await closeSockets(of: id, because: "disabled", global, context) }
    }

    /// The store write is what disables (or deletes) the user: chatd refuses their tokens from now on. A running
    /// chatd is also asked to close the sockets they already have; without that, every chatd still closes them
    /// within its `auth.session_recheck`.
    static func closeSockets(of id: UserID, because change: String, _ global: GlobalOptions, _ context: CTLContext) async throws {
        let client = ControlClient(socketPath: try global.controlSocketPath(context), timeoutSeconds: 10)
        do {
            let kicked = try await client.kick(userId: id.rawValue)
            context.log("chatd closed \(kicked.sockets) socket\(kicked.sockets == 1 ? "" : "s") of \(id)")
        } catch .notRunning {
            // Another chatd (another host, another control socket) closes them at its next session recheck.
            context.log("chatd is not running (nothing listens on \(client.socketPath)); any chatd elsewhere closes the user's sockets at its next session recheck")
        } catch {
            // The user stays disabled; only the disconnect is missing, and `daemon kick` can redo it.
            let failure = CTLError(error)
            throw failure.withMessage("\(id) is \(change), but chatd did not close their sockets: \(failure.message) "
                                      + "(retry with chatctl daemon kick \(id))")
        }
    }
}
