import ArgumentParser
import ChatCore
import ChatStore

struct UserDisable: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "disable", abstract: "Disable a user: no login, tokens refused.")

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
    }
}
