import ArgumentParser
import ChatControl
import Foundation

struct DaemonStatusQuery: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show version, uptime, connections, subscriptions and dependency state.")

    @OptionGroup var global: GlobalOptions

    func run(_ context: CTLContext) async throws {
        let status = try await global.controlClient(context).status()
        if global.json { context.print(Output.json(status)); return }
        context.print("""
            version:       \(status.version)
            pid:           \(status.pid)
            uptime:        \(Self.duration(status.uptimeSeconds)) (since \(Output.date(status.startedAt)))
            connections:   \(status.connections)
            users online:  \(status.usersOnline)
            subscriptions: \(status.subscriptions)
            draining:      \(status.draining ? "yes" : "no")
            log level:     \(status.logLevel.rawValue)
            broker:        \(status.broker.rawValue)
            store:         \(status.store.rawValue)
            chat3:         \(status.chat3.rawValue)
            config digest: \(status.configDigest)
            """)
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds)
        let (days, hours, minutes, rest) = (total / 86_400, total % 86_400 / 3_600, total % 3_600 / 60, total % 60)
        if days > 0 { return "\(days)d\(hours)h\(minutes)m" }
        if hours > 0 { return "\(hours)h\(minutes)m\(rest)s" }
        return minutes > 0 ? "\(minutes)m\(rest)s" : "\(rest)s"
    }
}
