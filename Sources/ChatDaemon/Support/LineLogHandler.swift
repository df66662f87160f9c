import ChatCore
import Foundation
import Logging
import Synchronization

/// One line per event on stderr: `<time> <level> <label>: <message> key=value …`.
/// URL passwords are masked (`SecretMask`). Under systemd (`JOURNAL_STREAM` set) the journal adds timestamps, so we leave them out.
/// The level comes from a shared `LogLevelSwitch`, so the control socket and SIGHUP change it for
/// every logger at once, without a restart; a logger that sets its own level keeps that one.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let timestamps: Bool
    private let level: LogLevelSwitch
    private var override: Logger.Level?

    public var logLevel: Logger.Level {
        get { override ?? level.current }
        set { override = newValue }
    }

    public init(label: String, level: LogLevelSwitch, timestamps: Bool) {
        self.label = label
        self.level = level
        self.timestamps = timestamps
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = ""
        if timestamps {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            var tm = tm()
            var seconds = now.tv_sec
            gmtime_r(&seconds, &tm)
            line = String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                          tm.tm_hour, tm.tm_min, tm.tm_sec, Int(now.tv_nsec / 1_000_000))
        }
        line += "\(event.level) \(label): \(event.message)"
        let merged = metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, new in new })
        for key in merged.keys.sorted() { line += " \(key)=\(merged[key]!)" }
        line += "\n"
        // A URL's password never reaches the log, whoever put the URL in a message or an error.
        FileHandle.standardError.write(Data(SecretMask.urlPasswords(in: line).utf8))
    }
}

/// The process's log level, read on every log call; owned by the executable, changed by the control
/// socket (`PUT /v1/log-level`) and by reload.
public final class LogLevelSwitch: Sendable {
    private let level: Mutex<Logger.Level>

    public init(_ level: Logger.Level) { self.level = Mutex(level) }

    public var current: Logger.Level { level.withLock { $0 } }

    /// Sets the level and returns the previous one.
    @discardableResult
    public func set(_ newLevel: Logger.Level) -> Logger.Level {
        level.withLock { level in
            let previous = level
            level = newLevel
            return previous
        }
    }
}

/// Installs the handler for the whole process; called once, by an executable.
public enum LogSetup {
    /// `text` with URL passwords masked, for what an executable writes to stderr itself.
    public static func masked(_ text: String) -> String { SecretMask.urlPasswords(in: text) }

    /// Returns the switch that changes every logger's level from now on.
    @discardableResult
    public static func bootstrap(level: Logger.Level, environment: [String: String]) -> LogLevelSwitch {
        let timestamps = environment["JOURNAL_STREAM"] == nil
        let levelSwitch = LogLevelSwitch(level)
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: levelSwitch, timestamps: timestamps) }
        return levelSwitch
    }
}
