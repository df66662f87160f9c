import ArgumentParser
import ChatControl

public struct DaemonCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "daemon", abstract: "Talk to the running chatd over its control socket.",
        discussion: """
            Needs root, chatd's own user, or membership in the operator group (control.operator_group, \
            default 'chatd'). Exits 69 when chatd is not running and 77 when access is denied.
            """,
        subcommands: [DaemonStatusQuery.self, DaemonConnections.self, DaemonKick.self, DaemonDrain.self,
                      DaemonReload.self, DaemonLogLevel.self, DaemonStop.self])
    public init() {}
}

extension GlobalOptions {
    /// The control socket chatd listens on: --socket, CHATD_CONTROL_SOCKET, the config file, the default.
    func controlSocketPath(_ context: CTLContext) throws -> String {
        guard let path = try loader(context).resolve()["control.socket"]?.value, !path.isEmpty else {
            throw CTLError.config("control.socket is empty")
        }
        return path
    }

    func controlClient(_ context: CTLContext) throws -> ControlClient {
        ControlClient(socketPath: try controlSocketPath(context))
    }
}
