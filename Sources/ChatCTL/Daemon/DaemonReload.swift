import ArgumentParser
import ChatControl

struct DaemonReload: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Re-read the configuration, like SIGHUP; an invalid one is refused and the running one kept.")

    @OptionGroup var global: GlobalOptions

    func run(_ context: CTLContext) async throws {
        let result = try await global.controlClient(context).reload()
        if global.json { context.print(Output.json(result)); return }
        context.print("reloaded (digest \(result.configDigest), log level \(result.logLevel.rawValue))")
        if !result.applied.isEmpty { context.print("applied: \(result.applied.joined(separator: ", "))") }
        if !result.restartRequired.isEmpty {
            context.print("changed, effective after a restart: \(result.restartRequired.joined(separator: ", "))")
        }
    }
}
