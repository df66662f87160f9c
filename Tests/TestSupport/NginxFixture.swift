import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs Debian's nginx as a child process with the committed `deploy/nginx.conf`, rendered for a test:
/// the example is an http-context file (what an operator puts into /etc/nginx/conf.d/), so the test
/// wraps it in a minimal nginx.conf of its own (pid file, temp paths, logs under a temporary folder)
/// and only swaps the example's listen port and upstream addresses for its own.
public enum NginxError: Error, CustomStringConvertible {
    case notInstalled
    case render(String)
    case start(String)

    public var description: String {
        switch self {
        case .notInstalled:
            "nginx is not installed. Run `make test`: it installs nginx (scripts/deps.sh) before running the tests."
        case .render(let why): "cannot render deploy/nginx.conf: \(why)"
        case .start(let why): "nginx did not start: \(why)"
        }
    }
}

/// Renders the committed example for a test.
public enum NginxSiteRenderer {
    /// The lines of `deploy/nginx.conf` a test replaces, as its header comment documents.
    public static let listenLine = "listen 80;"
    public static let upstreamAddresses = ["127.0.0.1:3001", "127.0.0.1:3002"]

    /// The example's text from this checkout.
    public static func committedExample() throws -> String {
        guard let root = RepositoryRoot.find() else { throw NginxError.render("repository root not found") }
        return try String(contentsOf: root.appendingPathComponent("deploy/nginx.conf"), encoding: .utf8)
    }

    /// Replaces the listen line and the upstream servers' addresses (each must occur exactly once outside
    /// comments, so the example cannot drift away from what the test runs), plus any `extraReplacements`
    /// of whole directive lines (test-only variations, same rule).
    public static func render(_ example: String, listenPort: Int, upstreamPorts: [Int],
                              extraReplacements: [(line: String, with: String)] = []) throws -> String {
        guard upstreamPorts.count == upstreamAddresses.count else {
            throw NginxError.render("the example has \(upstreamAddresses.count) upstream servers")
        }
        var lines = example.components(separatedBy: "\n")
        func replace(_ what: String, matching: (String) -> Bool, with transform: (String) -> String) throws {
            let hits = lines.indices.filter { index in
                let trimmed = lines[index].trimmingCharacters(in: .whitespaces)
                return !trimmed.hasPrefix("#") && matching(trimmed)
            }
            guard hits.count == 1 else {
                throw NginxError.render("expected exactly one `\(what)` directive, found \(hits.count)")
            }
            lines[hits[0]] = transform(lines[hits[0]])
        }
        try replace(listenLine, matching: { $0 == listenLine }) {
            $0.replacingOccurrences(of: listenLine, with: "listen 127.0.0.1:\(listenPort);")
        }
        for (address, port) in zip(upstreamAddresses, upstreamPorts) {
            try replace("server \(address)", matching: { $0.hasPrefix("server \(address) ") || $0 == "server \(address);" }) {
                $0.replacingOccurrences(of: "server \(address)", with: "server 127.0.0.1:\(port)")
            }
        }
        for (line, replacement) in extraReplacements {
            try replace(line, matching: { $0 == line }) { $0.replacingOccurrences(of: line, with: replacement) }
        }
        return lines.joined(separator: "\n")
    }
}

/// One request as the test's access log records it (see `NginxProcess.logFormat`).
public struct NginxLogEntry: Sendable, CustomStringConvertible {
    public let method: String
    public let path: String
    public let status: Int
    public let sid: String?
    public let transport: String?
    /// The instance(s) nginx passed the request to (several when it retried another).
    public let upstream: String
    public let forwardedFor: String?

    public var description: String {
        "\(method) \(path) transport=\(transport ?? "-") sid=\(sid ?? "-") → \(upstream) \(status) xff=\(forwardedFor ?? "-")"
    }
}

/// nginx as a child process, stopped by PID.
public final class NginxProcess: Sendable {
    public let service: ServiceProcess
    public let port: Int
    public let accessLogURL: URL
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    static let logFormat = "$request_method|$uri|$status|$arg_sid|$arg_transport|$upstream_addr|$http_x_forwarded_for"

    init(service: ServiceProcess, port: Int, accessLogURL: URL) {
        self.service = service
        self.port = port
        self.accessLogURL = accessLogURL
    }

    /// Debian's nginx, or nil.
    public static var executable: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = ["/usr/sbin/nginx", "/usr/local/sbin/nginx"]
            + path.split(separator: ":").map { "\($0)/nginx" }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Renders `site` (a function of the listen port, so a taken port can be retried with another),
    /// writes the wrapper configuration under `directory`, and starts nginx in the foreground with that
    /// folder as its prefix. `httpDirectives` go into the wrapper's `http {}` before the site.
    public static func start(in directory: URL, httpDirectives: [String] = [],
                             site: (Int) throws -> String) async throws -> NginxProcess {
        guard let nginx = executable else { throw NginxError.notInstalled }
        var lastError = ""
        for attempt in 1...3 {
            let prefix = directory.appendingPathComponent("nginx-\(attempt)")
            let temp = prefix.appendingPathComponent("temp")
            try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
            let port = try freeTCPPort()
            let siteURL = prefix.appendingPathComponent("chatd.conf")
            try site(port).write(to: siteURL, atomically: true, encoding: .utf8)
            let accessLog = prefix.appendingPathComponent("access.log")
            let main = prefix.appendingPathComponent("nginx.conf")
            // Running as root, nginx would switch its workers to `nobody`, which cannot write the temp
            // folders a root-owned test created: keep them root (this wrapper only, not the example).
            let user = geteuid() == 0 ? "user root;\n" : ""
            let temps = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map {
                "    \($0)_temp_path \(temp.appendingPathComponent($0).path);"
            }.joined(separator: "\n")
            let config = """
                \(user)worker_processes 1;
                pid \(prefix.appendingPathComponent("nginx.pid").path);
                error_log stderr notice;
                events { worker_connections 512; }
                http {
                \(temps)
                    log_format chatd_test '\(logFormat)';
                    access_log \(accessLog.path) chatd_test;
                \(httpDirectives.map { "    \($0)" }.joined(separator: "\n"))
                    include \(siteURL.path);
                }

                """
            try config.write(to: main, atomically: true, encoding: .utf8)
            let service = try ServiceProcess(nginx, ["-p", prefix.path + "/", "-c", main.path, "-g", "daemon off;"],
                                             environment: [:], logURL: prefix.appendingPathComponent("nginx.log"))
            let process = NginxProcess(service: service, port: port, accessLogURL: accessLog)
            if await process.waitUntilServing() { return process }
            await service.stop()
            lastError = service.log
            // Another process may have taken the free port between our probe and nginx's bind: retry.
            guard lastError.contains("Address already in use") else { break }
        }
        throw NginxError.start(lastError)
    }

    /// True once nginx accepts connections on its port (any HTTP answer counts).
    func waitUntilServing(timeoutSeconds: Double = 10) async -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            guard service.isRunning else { return false }
            if Self.accepts(port: port) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// Stops nginx (SIGTERM, fast shutdown) and waits for it; returns its exit status.
    @discardableResult
    public func stop() async -> Int32 { await service.stop() }

    /// Every request nginx logged so far.
    public func accessLog() -> [NginxLogEntry] {
        let text = (try? String(contentsOf: accessLogURL, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 7, let status = Int(fields[2]) else { return nil }
            func value(_ text: String) -> String? { text.isEmpty || text == "-" ? nil : text }
            return NginxLogEntry(method: fields[0], path: fields[1], status: status, sid: value(fields[3]),
                                 transport: value(fields[4]), upstream: fields[5], forwardedFor: value(fields[6]))
        }
    }

    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
