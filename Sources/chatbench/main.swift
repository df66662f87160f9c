import ArgumentParser

/// `chatbench`: load and latency benchmarks for chatd, its Chat3 emulator and RabbitMQ. Each subcommand
/// prints one JSON object (parameters and results) on stdout and its progress on stderr.
struct Chatbench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chatbench",
        abstract: "Benchmark chatd: HTTP load, Socket.IO fan-out from RabbitMQ, broker ceiling, connect storms.",
        subcommands: [HTTPBench.self, FanoutBench.self, AMQPCeilingBench.self, ConnectStormBench.self])
}

/// Resolves to `AsyncParsableCommand.main()`; top-level code would otherwise pick the synchronous one.
func launch<Command: AsyncParsableCommand>(_: Command.Type) async {
    await Command.main()
}

await launch(Chatbench.self)
