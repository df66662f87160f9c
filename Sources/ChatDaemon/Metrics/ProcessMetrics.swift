import Foundation

/// The standard `process_*` series (as Prometheus client libraries export them), read from /proc/self
/// at scrape time: memory, CPU seconds, descriptors, start time. Linux only; empty where /proc is absent.
enum ProcessMetrics {
    struct Sample: Equatable {
        var residentBytes: Double
        var virtualBytes: Double
        var cpuSeconds: Double
        var startTimeSeconds: Double
        var openFDs: Double
        var maxFDs: Double?
    }

    static func sample() -> Sample? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let closing = stat.lastIndex(of: ")") else { return nil }
        // Fields after "(comm)", numbered from 3 (state) as in proc(5).
        let fields = stat[stat.index(after: closing)...].split(separator: " ")
        func field(_ number: Int) -> Double? { fields.count > number - 3 ? Double(fields[number - 3]) : nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        guard let utime = field(14), let stime = field(15), let start = field(22), let vsize = field(23), let rss = field(24),
              let boot = bootTime() else { return nil }
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        var limit = rlimit()
        let maxFDs: Double? = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Double(limit.rlim_cur) : nil
        return Sample(residentBytes: rss * pageSize, virtualBytes: vsize, cpuSeconds: (utime + stime) / ticks,
                      startTimeSeconds: boot + start / ticks, openFDs: Double(fds), maxFDs: maxFDs)
    }

    /// Seconds since the epoch at boot (`btime` in /proc/stat).
    static func bootTime() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst("btime ".count))
        }
        return nil
    }

    /// The Prometheus text for one sample.
    static func render(_ sample: Sample) -> String {
        var text = ""
        func series(_ name: String, _ type: String, _ help: String, _ value: Double) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(format(value))\n"
        }
        series("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", sample.cpuSeconds)
        series("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", sample.residentBytes)
        series("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", sample.virtualBytes)
        series("process_open_fds", "gauge", "Number of open file descriptors.", sample.openFDs)
        if let maxFDs = sample.maxFDs {
            series("process_max_fds", "gauge", "Maximum number of open file descriptors.", maxFDs)
        }
        series("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
               sample.startTimeSeconds)
        return text
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
