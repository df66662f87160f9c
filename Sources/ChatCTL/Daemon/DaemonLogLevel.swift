import ArgumentParser
import ChatControl

extension ControlLogLevel: ExpressibleByArgument {}

struct DaemonLogLevel: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "log-level", abstract: "Change chatd's log level now, without a restart (until the next reload).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "trace, debug, info, notice, warning, error or critical.") var level: ControlLogLevel

    func run(_ context: CTLContext) async throws {
        let result = try await global.controlClient(context).setLogLevel(level)
        if global.json { context.print(Output.json(result)); return }
        context.print("log level \(result.level.rawValue) (was \(result.previous.rawValue))")
    }
}
