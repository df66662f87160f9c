import ArgumentParser
import ChatAMQP

struct QueueList: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List queues with ready and unacknowledged messages and consumers.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Only queues whose name starts with this.") var prefix = ""

    func run(_ context: CTLContext) async throws {
        let queues = try await global.managementClient(context).listQueues(prefix: prefix)
        if global.json { context.print(Output.json(queues.map { QueueOutput($0) })); return }
        context.print(Output.table(["QUEUE", "READY", "UNACKED", "CONSUMERS"], queues.map {
            [$0.name, String($0.messagesReady), String($0.messagesUnacknowledged), String($0.consumers)]
        }))
    }
}
