import ArgumentParser
import ChatCore
import ChatStore

struct UserShow: CTLCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one user by userId or phone.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "A userId (usr_…) or a phone number.") var user: String

    func run(_ context: CTLContext) async throws {
        let store = try await global.openStore(context)
        defer { Task { await store.close() } }
        let found: User?
        if user.hasPrefix(UserID.prefix) {
            found = try await store.user(id: try parseUserID(user))
        } else {
            found = try await store.user(phone: try Phone(normalizing: user))
        }
        guard let found else { throw CTLError.failure("no user \(user)") }
        UserPrinter.print(found, json: global.json, context)
    }
}
