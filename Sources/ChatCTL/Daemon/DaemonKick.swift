import ArgumentParser
import ChatControl

struct DaemonKick: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "kick", abstract: "Disconnect every socket of a user (the client is told not to reconnect).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The userId (usr_…).") var userId: String

    func run(_ context: CTLContext) async throws {
        let id = try parseUserID(userId)
        let result = try await global.controlClient(context).kick(userId: id.rawValue)
        if global.json { context.print(Output.json(result)); return }
        context.print("kicked \(result.userId): \(result.sockets) socket\(result.sockets == 1 ? "" : "s") closed")
    }
}
