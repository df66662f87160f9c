import ArgumentParser
import ChatControl

struct DaemonStop: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop", abstract: "Stop chatd gracefully: close sockets, finish requests, exit (as SIGTERM does).")

    @OptionGroup var global: GlobalOptions

    func run(_ context: CTLContext) async throws {
        let result = try await global.controlClient(context).shutdown()
        if global.json { context.print(Output.json(result)); return }
        context.print("chatd is stopping")
    }
}
