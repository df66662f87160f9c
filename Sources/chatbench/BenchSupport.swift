import Foundation
import Logging

/// Nanoseconds on the system-wide monotonic clock: comparable between tasks and threads of this process.
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// Progress lines on stderr; stdout carries only the result.
enum Progress {
    static func say(_ line: String) {
        FileHandle.standardError.write(Data("chatbench: \(line)\n".utf8))
    }
}

/// The one JSON object a run prints.
enum ResultPrinter {
    static func print(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(value)
        data.append(UInt8(ascii: "\n"))
        FileHandle.standardOutput.write(data)
    }
}

/// Latency percentiles in milliseconds over a set of samples in nanoseconds.
struct LatencySummary: Encodable, Sendable {
    var samples: Int
    var p50Ms: Double
    var p90Ms: Double
    var p99Ms: Double
    var maxMs: Double
    var meanMs: Double

    init(nanoseconds: [UInt64]) {
        let sorted = nanoseconds.sorted()
        samples = sorted.count
        func percentile(_ fraction: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            // Nearest rank: the smallest sample with at least `fraction` of all samples at or below it.
            let rank = Int((fraction * Double(sorted.count)).rounded(.up))
            return Self.milliseconds(sorted[min(max(rank, 1), sorted.count) - 1])
        }
        p50Ms = percentile(0.50)
        p90Ms = percentile(0.90)
        p99Ms = percentile(0.99)
        maxMs = sorted.last.map(Self.milliseconds) ?? 0
        meanMs = sorted.isEmpty ? 0 : Self.milliseconds(sorted.reduce(0, +) / UInt64(sorted.count))
    }

    private static func milliseconds(_ nanoseconds: UInt64) -> Double {
        (Double(nanoseconds) / 1000).rounded() / 1000 // whole microseconds
    }
}

/// Rounds for display: rates and ratios do not need more than two decimals.
func rounded(_ value: Double, places: Int = 2) -> Double {
    let scale = pow(10, Double(places))
    return (value * scale).rounded() / scale
}

/// A logger for library code (ChatAMQP) that prints warnings and worse to stderr.
func benchLogger(_ label: String) -> Logger {
    var logger = Logger(label: label) { label in StreamLogHandler.standardError(label: label) }
    logger.logLevel = .warning
    return logger
}

enum BenchError: Error, CustomStringConvertible {
    case badInput(String)
    case failed(String)

    var description: String {
        switch self {
        case .badInput(let why), .failed(let why): why
        }
    }
}

/// Reads the resident set size of a process from `/proc/<pid>/status` (VmRSS), in KiB.
func residentKiB(pid: Int32) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }
    return nil
}

/// The fields of `/proc/<pid>/smaps_rollup` in KiB (Rss, Pss, Anonymous, Private_Dirty, …): what the
/// resident memory is made of. Anonymous and Private_Dirty are the process's own heap and stacks, without
/// the clean file-backed pages of its code and libraries.
func smapsRollupKiB(pid: Int32) -> [String: Int] {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { return [:] }
    var fields: [String: Int] = [:]
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0].hasSuffix(":"), let value = Int(parts[1]) else { continue }
        fields[String(parts[0].dropLast())] = value
    }
    return fields
}

/// Ends the process after the result is printed: the WebSocket clients' tasks and connections end with it.
func endProcess() -> Never {
    Foundation.exit(0)
}
