import Foundation
import Logging

/// One line per event on stderr: `<time> <level> <label>: <message> key=value …`.
/// Under systemd (`JOURNAL_STREAM` set) the journal adds timestamps, so we leave them out.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let timestamps: Bool

    public init(label: String, level: Logger.Level, timestamps: Bool) {
        self.label = label
        self.logLevel = level
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
        FileHandle.standardError.write(Data(line.utf8))
    }
}

/// Installs the handler for the whole process; called once, by an executable.
public enum LogSetup {
    public static func bootstrap(level: Logger.Level, environment: [String: String]) {
        let timestamps = environment["JOURNAL_STREAM"] == nil
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: level, timestamps: timestamps) }
    }
}
