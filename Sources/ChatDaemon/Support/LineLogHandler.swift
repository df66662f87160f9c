import ChatCore
import Foundation
import Logging
import Synchronization

/// How log lines are written: `logfmt` (the default, for people and `journalctl`) or `json` (one object
/// per line, for log shippers).
public enum LogFormat: String, Sendable, CaseIterable {
    case logfmt
    case json
}

/// One line per event on stderr, URL passwords masked (`SecretMask`). logfmt: `<time> <level> <label>: <message> key=value …`, a value quoted
/// (`error="a socket error occurred"`) when it holds spaces, quotes, `=` or control characters. JSON:
/// `{"time":…,"level":…,"logger":…,"msg":…,"key":"value",…}`.
/// Under systemd (`JOURNAL_STREAM` set, passed in by the executable) the journal adds timestamps, so we
/// leave them out, and each line starts with its syslog priority (`<3>` for error) so `journalctl -p`
/// filters by level. The level comes from a shared `LogLevelSwitch`, so the control socket and SIGHUP
/// change it for every logger at once, without a restart; a logger that sets its own level keeps that one.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let journal: Bool
    private let format: LogFormat
    private let level: LogLevelSwitch
    private var override: Logger.Level?

    public var logLevel: Logger.Level {
        get { override ?? level.current }
        set { override = newValue }
    }

    /// `journal`: stderr is the systemd journal (no timestamps, a `<N>` priority prefix).
    public init(label: String, level: LogLevelSwitch, journal: Bool, format: LogFormat = .logfmt) {
        self.label = label
        self.level = level
        self.journal = journal
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, new in new })
        var line = journal ? "<\(Self.syslogPriority(event.level))>" : ""
        switch format {
        case .logfmt:
            if !journal { line += Self.timestamp() + " " }
            line += "\(event.level) \(label): \(event.message)"
            for key in merged.keys.sorted() { line += " \(key)=\(Self.logfmtValue(merged[key]!.description))" }
        case .json:
            var fields: [(String, String)] = []
            if !journal { fields.append(("time", Self.timestamp())) }
            fields += [("level", "\(event.level)"), ("logger", label), ("msg", "\(event.message)")]
            let reserved = Set(fields.map(\.0))
            for key in merged.keys.sorted() where !reserved.contains(key) { fields.append((key, merged[key]!.description)) }
            line += "{" + fields.map { "\(Self.jsonString($0.0)):\(Self.jsonString($0.1))" }.joined(separator: ",") + "}"
        }
        line += "\n"
        // A URL's password never reaches the log, whoever put the URL in a message or an error.
        FileHandle.standardError.write(Data(SecretMask.urlPasswords(in: line).utf8))
    }

    /// syslog(3) priorities, as sd-daemon(3) reads them from a `<N>` prefix.
    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// A logfmt value: bare when it is one plain word, else in double quotes with `"`, `\` and
    /// control characters escaped.
    static func logfmtValue(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy { scalar in
            scalar.value > 0x20 && scalar.value != 0x7F && scalar != "\"" && scalar != "=" && scalar != "\\"
        }
        return plain ? value : jsonString(value)
    }

    /// A JSON string literal (also the quoted logfmt form).
    static func jsonString(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var tm = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &tm)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                      tm.tm_hour, tm.tm_min, tm.tm_sec, Int(now.tv_nsec / 1_000_000))
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

    /// Returns the switch that changes every logger's level from now on. `journal`: the executable saw
    /// `JOURNAL_STREAM` (libraries never read the environment).
    @discardableResult
    public static func bootstrap(level: Logger.Level, format: LogFormat = .logfmt, journal: Bool) -> LogLevelSwitch {
        let levelSwitch = LogLevelSwitch(level)
        LoggingSystem.bootstrap { label in
            LineLogHandler(label: label, level: levelSwitch, journal: journal, format: format)
        }
        return levelSwitch
    }
}
