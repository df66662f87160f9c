import ArgumentParser
import ChatAMQP
import Logging

/// How updates are published: over how many connections, and whether each publish waits for the
/// broker's confirm. Shared by `amqp-ceiling` and `fanout`, so both sides of the peak/ceiling ratio are
/// fed the same way and the publisher is not what the ratio measures.
struct PublisherOptions: ParsableArguments {
    @Option(help: "Publisher connections (each its own AMQPPublisher, thread and channel); updates are split round-robin over them.")
    var publishers: Int = 1
    @Flag(inversion: .prefixedNo,
          help: "Put each publisher channel in confirm mode and count a publish once the broker confirms it (--no-confirms: once it is written to the socket).")
    var confirms = true

    func validate() throws {
        guard publishers > 0 else { throw ValidationError("--publishers must be positive") }
    }
}

/// What the result files say about the publishing side.
struct PublisherSetup: Encodable {
    var publishers: Int
    var confirms: Bool
}

/// `count` AMQPPublishers on one URL, opened together and closed together.
struct PublisherPool: Sendable {
    let publishers: [AMQPPublisher]
    let setup: PublisherSetup

    init(url: String, options: PublisherOptions, logger: Logger) throws {
        var made: [AMQPPublisher] = []
        for index in 0..<options.publishers {
            made.append(try AMQPPublisher(
                url: url,
                options: .init(connectionName: "chatbench publisher \(index + 1)", waitForConfirms: options.confirms),
                logger: logger))
        }
        publishers = made
        setup = PublisherSetup(publishers: options.publishers, confirms: options.confirms)
    }

    /// Declares the exchange on every connection: it also opens each connection before the clock starts.
    func declareExchange(_ name: String) async throws {
        for publisher in publishers { try await publisher.declareExchange(name) }
    }

    func close() async {
        for publisher in publishers { await publisher.close() }
    }
}
