import Foundation
import Logging

/// Logs a broker outage without flooding: the first failure as a warning, then at most one
/// "still unreachable since T, N attempts" line per `repeatEvery`, and one line when it ends.
/// Owned by one thread (the consumer's), so a plain struct.
struct OutageLog {
    let what: String
    /// Which connection, as the broker's management UI names it.
    let connection: String
    let repeatEvery: Duration
    private var since: Date?
    private var attempts = 0
    private var lastLogged = ContinuousClock.now

    init(what: String, connection: String, repeatEvery: Duration = .seconds(60)) {
        self.what = what
        self.connection = connection
        self.repeatEvery = repeatEvery
    }

    /// A failed attempt; logs the first one and then a summary each `repeatEvery`.
    mutating func failed(reason: String, retryIn: Duration, logger: Logger, at now: ContinuousClock.Instant = .now) {
        attempts += 1
        guard let since else {
            self.since = Date()
            lastLogged = now
            logger.warning("\(what) disconnected", metadata: [
                "amqp.connection": "\(connection)", "error": "\(reason)", "amqp.retry_in": "\(Self.seconds(retryIn))",
            ])
            return
        }
        guard now - lastLogged >= repeatEvery else { return }
        lastLogged = now
        logger.warning("\(what) still unreachable", metadata: [
            "amqp.connection": "\(connection)", "amqp.down_since": "\(Self.format(since))", "amqp.attempts": "\(attempts)", "error": "\(reason)",
        ])
    }

    /// Connected again: says how long it was down, if it was.
    mutating func recovered(logger: Logger) {
        guard let since else { return }
        logger.notice("\(what) reconnected", metadata: [
            "amqp.connection": "\(connection)", "amqp.down_seconds": "\(Int(Date().timeIntervalSince(since)))", "amqp.attempts": "\(attempts)",
        ])
        self.since = nil
        attempts = 0
    }

    /// `1.5s`, not Swift's "1.5324 seconds".
    static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(format: "%.1fs", Double(seconds) + Double(attoseconds) / 1e18)
    }

    static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: date)
    }
}
