import ArgumentParser
import ChatCore
import ChatStore

struct UserList: CTLCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List users.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Only phones starting with these digits.") var phone: String?
    @Option(help: "Only users with this status (active or disabled).") var status: String?
    @Option(help: "At most this many users.") var limit = 100

    func run(_ context: CTLContext) async throws {
        var query = UserQuery(limit: limit)
        if let phone {
            guard !phone.isEmpty, phone.allSatisfy(\.isASCIIDigit) else { throw CTLError.badInput("--phone takes digits only") }
            query.phonePrefix = phone
        }
        if let status {
            guard let parsed = UserStatus(rawValue: status) else { throw CTLError.badInput("--status must be active or disabled") }
            query.status = parsed
        }
        guard limit > 0 else { throw CTLError.badInput("--limit must be positive") }
        let store = try await global.openStore(context)
        defer { Task { await store.close() } }
        let users = try await store.listUsers(query)
        if global.json {
            context.print(Output.json(users.map(UserOutput.init)))
        } else {
            context.print(Output.table(["USER", "PHONE", "STATUS", "CREATED", "NAME"], users.map {
                [$0.userId.rawValue, $0.phone.digits, $0.status.rawValue, Output.date($0.createdAt), $0.name.value]
            }))
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
