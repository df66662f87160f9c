import ArgumentParser
import ChatCore
import ChatStore
import Foundation

struct UserCreate: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a user (also registered in Chat3 when reachable).")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Phone number, e.g. 79001234567 or \"+7 (900) 123-45-67\".") var phone: String
    @Option(help: "Display name, 1 to 100 characters.") var name: String

    func run(_ context: CTLContext) async throws {
        // Validate everything before touching the store.
        let user = User(userId: UserID.generate(), phone: try Phone(normalizing: phone),
                        name: try UserName(validating: name), createdAt: Date())
        let chat3 = try Chat3Registration.make(global, context)
        let store = try await global.openStore(context)
        defer { Task { await store.close() } }
        try await store.createUser(user)
        UserPrinter.print(user, json: global.json, context)
        await chat3.register(user.userId, verbose: global.verbose, context)
    }
}
