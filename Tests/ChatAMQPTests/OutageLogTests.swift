@testable import ChatAMQP
import Foundation
import Logging
import Synchronization
import Testing

/// Collects what a logger was asked to write, message and metadata.
final class CollectingLogHandler: LogHandler, @unchecked Sendable {
    // `lines` is the only mutable state; guarded by its Mutex.
    let lines = Mutex<[(String, Logger.Metadata)]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        lines.withLock { $0.append(("\(event.message)", event.metadata ?? [:])) }
    }
}

@Suite("broker outage logging")
struct OutageLogTests {
    @Test("a long outage logs one warning, then 'still unreachable' with since and attempts once per interval, then one reconnected line")
    func rateLimited() {
        let handler = CollectingLogHandler()
        let logger = Logger(label: "test") { _ in handler }
        var outage = OutageLog(what: "amqp consumer", connection: "chatd updates", repeatEvery: .milliseconds(300))
        // 21 attempts 50 ms apart on a simulated clock: one second of outage.
        let start = ContinuousClock.now
        for step in 0...20 {
            outage.failed(reason: "connection refused", retryIn: .milliseconds(50), logger: logger,
                          at: start + .milliseconds(50 * step))
        }
        outage.recovered(logger: logger)
        let lines = handler.lines.withLock { $0 }
        let messages = lines.map(\.0)
        #expect(messages.first == "amqp consumer disconnected")
        let repeats = lines.filter { $0.0 == "amqp consumer still unreachable" }
        // 1 s of failures at a 0.3 s interval: summaries at 0.3, 0.6 and 0.9 s, never one per attempt.
        #expect(repeats.count == 3, "\(messages)")
        let attempts = repeats.compactMap { $0.1["amqp.attempts"].flatMap { Int("\($0)") } }
        #expect(attempts == attempts.sorted() && attempts.allSatisfy { $0 > 1 }, "\(attempts)")
        #expect(repeats.allSatisfy { $0.1["amqp.down_since"] != nil })
        #expect(messages.last == "amqp consumer reconnected")
        #expect(messages.count == 2 + repeats.count)
    }
}
