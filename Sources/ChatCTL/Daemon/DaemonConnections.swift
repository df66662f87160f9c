import ArgumentParser
import ChatControl

struct DaemonConnections: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "connections", abstract: "List connected users with their socket count and joined dialogs.")

    @OptionGroup var global: GlobalOptions

    func run(_ context: CTLContext) async throws {
        let list = try await global.controlClient(context).connections()
        if global.json { context.print(Output.json(list.connections)); return }
        context.print(Output.table(["USER", "SOCKETS", "ROOMS"], list.connections.map {
            [$0.userId, String($0.sockets), $0.rooms.isEmpty ? "-" : $0.rooms.joined(separator: ",")]
        }))
    }
}
