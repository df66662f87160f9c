import ArgumentParser
import ChatAMQP
import Foundation

public struct QueueCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "Inspect users' update queues through the RabbitMQ management API.",
        discussion: "The API is rabbitmq.management_url (RABBITMQ_MANAGEMENT_URL). Counters lag the queue by a few seconds.",
        subcommands: [QueueList.self, QueueShow.self, QueuePeek.self, QueuePurge.self])
    public init() {}
}

/// `<name>` or `--user ID`: which queue a command is about.
struct QueueTarget: ParsableArguments {
    @Argument(help: "The queue name.") var name: String?
    @Option(help: "A userId (usr_…): the user's update queue, named by rabbitmq.queue_template.") var user: String?

    func validate() throws {
        if (name == nil) == (user == nil) { throw ValidationError("give either a queue name or --user ID") }
    }

    func queueName(_ global: GlobalOptions, _ context: CTLContext) throws -> String {
        if let name { return name }
        let id = try parseUserID(user ?? "")
        // The same rule chatd names the queue by when it declares it.
        return try global.loader(context).queueNaming().queueName(for: id.rawValue)
    }
}

extension GlobalOptions {
    func managementClient(_ context: CTLContext) throws -> RabbitManagementClient {
        // The management API of a busy broker answers slowly (its statistics are computed per request);
        // an operator asking once would rather wait than retry. A broker that is down refuses at once.
        try RabbitManagementClient(url: try loader(context).managementURL(), timeout: .seconds(20))
    }
}

/// A queue as chatctl prints it in JSON.
struct QueueOutput: Encodable {
    let name: String
    let vhost: String
    let messagesReady: Int
    let messagesUnacknowledged: Int
    let consumers: Int
    let durable: Bool
    let autoDelete: Bool
    let arguments: [String: Int]
    let bindings: [BindingOutput]?

    struct BindingOutput: Encodable {
        let exchange: String
        let routingKey: String
    }

    init(_ queue: RabbitQueue, bindings: [RabbitBinding]? = nil) {
        name = queue.name
        vhost = queue.vhost
        messagesReady = queue.messagesReady
        messagesUnacknowledged = queue.messagesUnacknowledged
        consumers = queue.consumers
        durable = queue.durable
        autoDelete = queue.autoDelete
        arguments = queue.arguments
        self.bindings = bindings?.map { BindingOutput(exchange: $0.source, routingKey: $0.routingKey) }
    }
}
