import ArgumentParser
import ChatAMQP

struct QueueShow: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show one queue: counters, arguments and bindings.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: QueueTarget

    func run(_ context: CTLContext) async throws {
        let name = try target.queueName(global, context)
        let details = try await global.managementClient(context).queue(name)
        if global.json { context.print(Output.json(QueueOutput(details.queue, bindings: details.bindings))); return }
        let queue = details.queue
        let arguments = queue.arguments.keys.sorted().map { "\($0)=\(queue.arguments[$0]!)" }.joined(separator: " ")
        context.print("""
            name:        \(queue.name)
            vhost:       \(queue.vhost)
            ready:       \(queue.messagesReady)
            unacked:     \(queue.messagesUnacknowledged)
            consumers:   \(queue.consumers)
            durable:     \(queue.durable)
            auto-delete: \(queue.autoDelete)
            arguments:   \(arguments.isEmpty ? "-" : arguments)
            bindings:
            """)
        for binding in details.bindings { context.print("  \(binding.source) \(binding.routingKey)") }
    }
}
