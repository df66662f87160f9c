import ArgumentParser
import ChatControl

struct DaemonDrain: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Refuse new sockets and close existing ones so clients reconnect to another instance.")

    @OptionGroup var global: GlobalOptions

    func run(_ context: CTLContext) async throws {
        let result = try await global.controlClient(context).drain()
        if global.json { context.print(Output.json(result)); return }
        context.print("draining: new sockets refused, \(result.closed) closed")
    }
}
