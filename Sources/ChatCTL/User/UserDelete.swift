import ArgumentParser
import ChatCore
import ChatStore

struct UserDelete: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a user; a running chatd closes their sockets.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The userId (usr_…).") var userId: String
    @Flag(help: "Do not ask for confirmation.") var yes = false

    func run(_ context: CTLContext) async throws {
        let id = try parseUserID(userId)
        let store = try await global.openStore(context)
        defer { Task { await store.close() } }
        guard let user = try await store.user(id: id) else { throw StoreError.notFound }
        if !yes {
            guard context.stdinIsTerminal else {
                throw CTLError.usage("refusing to delete without --yes when stdin is not a terminal")
            }
            guard context.confirm("delete \(user.userId) (\(user.name), \(user.phone))?") else {
                throw CTLError.failure("not deleted")
            }
        }
        try await store.deleteUser(id: id)
        if global.json {
            context.print(Output.json(["deleted": id.rawValue]))
        } else {
            context.print("deleted \(id)")
        }
        try await UserStatusChange.closeSockets(of: id, because: "deleted", global, context)
    }
}
