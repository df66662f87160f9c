import ArgumentParser
import ChatCore
import ChatStore

struct UserRename: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "rename", abstract: "Change a user's display name (and make sure Chat3 knows the user).",
        discussion: "Chat3 keeps no user names (its user record has only an id and a type), so only chatd's store changes.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The userId (usr_…).") var userId: String
    @Argument(help: "The new name.") var name: String

    func run(_ context: CTLContext) async throws {
        let id = try parseUserID(userId)
        let newName = try UserName(validating: name)
        let chat3 = try Chat3Registration.make(global, context)
        let store = try await global.openStore(context)
        defer { Task { await store.close() } }
        UserPrinter.print(try await store.renameUser(id: id, to: newName), json: global.json, context)
        await chat3.register(id, verbose: global.verbose, context)
    }
}
