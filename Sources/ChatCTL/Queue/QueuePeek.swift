import ArgumentParser
import ChatAMQP
import Foundation

struct QueuePeek: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "peek",
        abstract: "Show messages at the head of a queue without consuming them.",
        discussion: "Messages are fetched and requeued, so the broker marks them redelivered; the depth stays the same.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: QueueTarget
    @Option(help: "At most this many messages.") var count = 10

    struct MessageOutput: Encodable {
        let exchange: String
        let routingKey: String
        let redelivered: Bool
        let payloadBytes: Int
        let payload: String
        let headers: [String: String]
    }

    func run(_ context: CTLContext) async throws {
        guard count > 0 else { throw CTLError.badInput("--count must be positive") }
        let name = try target.queueName(global, context)
        let messages = try await global.managementClient(context).peek(queue: name, count: count)
        let output = messages.map {
            MessageOutput(exchange: $0.exchange, routingKey: $0.routingKey, redelivered: $0.redelivered,
                          payloadBytes: $0.payloadBytes, payload: String(decoding: $0.payload, as: UTF8.self), headers: $0.headers)
        }
        if global.json { context.print(Output.json(output)); return }
        context.print(Output.table(["#", "ROUTING KEY", "BYTES", "PAYLOAD"], output.enumerated().map { index, message in
            [String(index + 1), message.routingKey, String(message.payloadBytes), Self.excerpt(message.payload)]
        }))
    }

    /// One line of the payload, cut to fit a terminal.
    static func excerpt(_ text: String, limit: Int = 100) -> String {
        let line = text.replacingOccurrences(of: "\n", with: " ")
        return line.count > limit ? String(line.prefix(limit - 1)) + "…" : line
    }
}
