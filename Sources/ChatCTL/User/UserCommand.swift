import ArgumentParser
import ChatCore
import Foundation

public struct UserCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "user", abstract: "List, show, create, rename, disable, enable and delete users.",
        subcommands: [UserList.self, UserShow.self, UserCreate.self, UserRename.self,
                      UserDisable.self, UserEnable.self, UserDelete.self])
    public init() {}
}

/// A user as chatctl prints it in JSON.
struct UserOutput: Encodable {
    let userId: String
    let phone: String
    let name: String
    let status: String
    let createdAt: Date
    let lastActiveAt: Date?

    init(_ user: User) {
        userId = user.userId.rawValue
        phone = user.phone.digits
        name = user.name.value
        status = user.status.rawValue
        createdAt = user.createdAt
        lastActiveAt = user.lastActiveAt
    }
}

enum UserPrinter {
    static func print(_ user: User, json: Bool, _ context: CTLContext) {
        if json { context.print(Output.json(UserOutput(user))); return }
        context.print("""
            userId:       \(user.userId)
            phone:        \(user.phone)
            name:         \(user.name)
            status:       \(user.status.rawValue)
            createdAt:    \(Output.date(user.createdAt))
            lastActiveAt: \(Output.date(user.lastActiveAt))
            """)
    }
}

/// Parses a user id argument, with the error every command shows for a malformed one.
func parseUserID(_ text: String) throws -> UserID {
    try UserID(validating: text)
}
