import ArgumentParser
import ChatAMQP

struct QueuePurge: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge", abstract: "Drop every ready message of a queue (asks unless --yes).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: QueueTarget
    @Flag(help: "Do not ask for confirmation.") var yes = false

    func run(_ context: CTLContext) async throws {
        let name = try target.queueName(global, context)
        let client = try global.managementClient(context)
        if !yes {
            guard context.stdinIsTerminal else {
                throw CTLError.usage("refusing to purge without --yes when stdin is not a terminal")
            }
            let ready = try await client.queue(name).queue.messagesReady
            guard context.confirm("purge \(name) (about \(ready) ready messages)?") else {
                throw CTLError.failure("not purged")
            }
        }
        try await client.purge(queue: name)
        if global.json {
            context.print(Output.json(["purged": name]))
        } else {
            context.print("purged \(name)")
        }
    }
}
