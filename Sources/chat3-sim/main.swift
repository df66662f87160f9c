import ArgumentParser
import Chat3Sim
import Foundation
import Logging

/// `chat3-sim`: a local emulator of the Chat3 tenant API and its update publishing. Tests and benchmarks only.
struct Chat3SimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat3-sim",
        abstract: "Run a local emulator of the Chat3 REST API that publishes Updates to RabbitMQ.")

    @Option(help: "HTTP port (0 picks a free one and prints it).")
    var port: Int = 3000

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(name: .customLong("rabbitmq-url"), help: "AMQP URL of the broker Updates go to.")
    var rabbitmqURL: String = "amqp://guest:guest@127.0.0.1:5672/"

    @Option(name: .customLong("api-key"), help: "The API key every /api request must carry as X-API-Key.")
    var apiKey: String

    @Option(help: "Topic exchange for Updates (declared durable at start).")
    var exchange: String = "chat3_updates"

    @Flag(name: .customLong("legacy-updates"),
          help: "Publish seed-era Updates (user.{userId}.{kind}update, {eventType,dialogId,...}).")
    var legacyUpdates = false

    @Flag(name: .customLong("counter-updates"), help: "Also publish the counter-worker's unread Updates.")
    var counterUpdates = false

    @Option(name: .customLong("publish-delay-ms"), help: "Delay between a write's response and its Updates.")
    var publishDelayMs: Int = 50

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "notice"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0-65535") }
        guard !apiKey.isEmpty else { throw ValidationError("--api-key must not be empty") }
        guard publishDelayMs >= 0 else { throw ValidationError("--publish-delay-ms must not be negative") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .notice
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "chat3-sim")
        let publisher = try AMQPUpdatePublisher(url: rabbitmqURL, logger: logger)
        let configuration = Chat3SimConfiguration(
            host: host, port: port, apiKey: apiKey, exchange: exchange,
            generation: legacyUpdates ? .legacy : .current, publishDelay: .milliseconds(publishDelayMs),
            counterUpdates: counterUpdates)
        let simulator = Chat3Simulator(configuration: configuration, publisher: publisher, logger: logger)
        let host = self.host
        try await simulator.run { port in
            // Unbuffered, so a parent reading the pipe sees the line at once.
            FileHandle.standardOutput.write(Data("chat3-sim listening on \(host):\(port)\n".utf8))
        }
    }
}

/// Resolves to `AsyncParsableCommand.main()`; top-level code would otherwise pick the synchronous one.
func launch<Command: AsyncParsableCommand>(_: Command.Type) async {
    await Command.main()
}

await launch(Chat3SimCommand.self)
