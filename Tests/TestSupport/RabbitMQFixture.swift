import Foundation
import Spawn
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The RabbitMQ broker the tests use: `127.0.0.1:5672` (guest/guest) with the management API on
/// `15672`, started by `make test`. Each fixture has a unique name prefix; `with` deletes every queue
/// and exchange under that prefix afterwards.
public struct RabbitMQFixture: Sendable {
    public static let host = "127.0.0.1"
    public static let amqpPort = 5672
    public static let amqpURL = "amqp://guest:guest@127.0.0.1:5672/"
    public static let managementURL = "http://guest:guest@127.0.0.1:15672"
    static let managementBase = "http://127.0.0.1:15672"
    static let authorization = "Basic " + Data("guest:guest".utf8).base64EncodedString()

    /// Prefix for every name this fixture hands out, e.g. `chatdtest-4f9a1c-`.
    public let prefix: String

    /// Checks that the broker answers, runs `body`, then deletes what the test declared.
    public static func with<T>(_ body: (RabbitMQFixture) async throws -> T) async throws -> T {
        try await checkAvailable()
        let fixture = RabbitMQFixture(prefix: "chatdtest-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))-")
        do {
            let result = try await body(fixture)
            await fixture.cleanUp()
            return result
        } catch {
            await fixture.cleanUp()
            throw error
        }
    }

    /// A unique queue or exchange name for this test.
    public func name(_ base: String) -> String { prefix + base }

    /// Throws a readable error when RabbitMQ or its management plugin is not running.
    public static func checkAvailable() async throws {
        guard tcpAnswers(host: host, port: amqpPort) else {
            throw RabbitMQFixtureError.unavailable("""
                RabbitMQ does not answer on \(host):\(amqpPort). Start it with `make test`, or: \
                rabbitmq-server -detached; until rabbitmqctl -q await_startup; do sleep 1; done; \
                rabbitmq-plugins enable rabbitmq_management
                """)
        }
        do {
            _ = try await request("GET", "/api/overview")
        } catch {
            throw RabbitMQFixtureError.unavailable("""
                the RabbitMQ management API does not answer on \(managementBase) (\(error)). \
                Enable it: rabbitmq-plugins enable rabbitmq_management
                """)
        }
    }

    /// Deletes the queues and exchanges whose names start with `prefix`.
    public func cleanUp() async {
        for kind in ["queues", "exchanges"] {
            for _ in 0..<3 { // the management API stalls now and then on a busy machine
                guard let names = try? await Self.names("/api/\(kind)/%2F", prefix: prefix) else { continue }
                for name in names {
                    _ = try? await Self.request("DELETE", "/api/\(kind)/%2F/\(Self.encode(name))")
                }
                break
            }
        }
    }

    /// Closes, from the broker side, every connection whose client named itself `connectionName`
    /// (what a broker shutdown does to its clients: connection.close 320 CONNECTION_FORCED).
    /// Waits up to `timeout` for such a connection to appear; returns how many were closed.
    @discardableResult
    public func closeConnections(named connectionName: String, timeout: Duration = .seconds(15)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while true {
            let data = try await Self.request("GET", "/api/connections?columns=name,client_properties")
            let connections = (try JSONSerialization.jsonObject(with: data) as? [[String: Any]]) ?? []
            let names = connections.compactMap { connection -> String? in
                let properties = connection["client_properties"] as? [String: Any]
                guard properties?["connection_name"] as? String == connectionName else { return nil }
                return connection["name"] as? String
            }
            if !names.isEmpty {
                for name in names { _ = try await Self.request("DELETE", "/api/connections/\(Self.encode(name))") }
                return names.count
            }
            if ContinuousClock.now > deadline { return 0 }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Runs `script` with the Python of the repository's `.venv` (where pika is installed).
    public static func runPython(_ script: String, arguments: [String] = []) async throws -> String {
        guard let root = RepositoryRoot.find() else {
            throw RabbitMQFixtureError.unavailable("cannot find the repository root (Package.swift) above the tests")
        }
        let python = root.appendingPathComponent(".venv/bin/python3")
        guard FileManager.default.isExecutableFile(atPath: python.path) else {
            throw RabbitMQFixtureError.unavailable("""
                no Python venv at .venv in the repository: python3 -m venv .venv && .venv/bin/pip install pika
                """)
        }
        // Awaited, never blocking a thread of the cooperative pool the other tests run on.
        let result = try await runCommand(python.path, ["-c", script] + arguments)
        guard result.status == 0 else {
            throw RabbitMQFixtureError.commandFailed("python exited \(result.status): " + result.stderr)
        }
        return result.stdout
    }

    // MARK: Management API

    /// Names starting with `prefix` (letters, digits, `-` only), filtered by the broker: the shared
    /// broker may hold thousands of queues of other tests and benchmarks.
    private static func names(_ path: String, prefix: String) async throws -> [String] {
        let regex = encode("^" + prefix.replacingOccurrences(of: "-", with: "\\-"))
        let data = try await request("GET", path + "?page=1&page_size=500&use_regex=true&name=\(regex)&columns=name")
        let page = (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        let items = (page["items"] as? [[String: Any]]) ?? []
        return items.compactMap { $0["name"] as? String }.filter { $0.hasPrefix(prefix) }
    }

    @discardableResult
    static func request(_ method: String, _ path: String) async throws -> Data {
        var request = URLRequest(url: URL(string: managementBase + path)!)
        request.httpMethod = method
        request.timeoutInterval = 30 // generous: the management API is slow under a full parallel test run
        request.setValue(authorization, forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) || (method == "DELETE" && status == 404) else {
            throw RabbitMQFixtureError.commandFailed("\(method) \(path): HTTP \(status)")
        }
        return data
    }

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }

    static func tcpAnswers(host: String, port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

public enum RabbitMQFixtureError: Error, CustomStringConvertible {
    case unavailable(String)
    case commandFailed(String)

    public var description: String {
        switch self {
        case .unavailable(let message): "RabbitMQ test fixture: \(message)"
        case .commandFailed(let message): "RabbitMQ test fixture: \(message)"
        }
    }
}

/// A TCP forwarder in front of the broker, to simulate losing it without disturbing the shared
/// broker other tests use: `cut()` drops every connection and refuses new ones (like a stopped
/// broker), `restore()` listens again on the same port.
public final class BrokerProxy: Sendable {
    private struct State {
        var listener: Int32 = -1
        var sockets: Set<Int32> = []
        var isOpen = false
    }

    public let port: Int
    private let targetPort: Int
    private let state = Mutex(State())

    public init(targetPort: Int = RabbitMQFixture.amqpPort) throws {
        self.targetPort = targetPort
        let listener = try Self.listen(port: 0)
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        state.withLock { $0.listener = listener; $0.isOpen = true }
        startAccepting(listener)
    }

    deinit { cut() }

    /// `amqp://guest:guest@127.0.0.1:<port>/`
    public var amqpURL: String { "amqp://guest:guest@127.0.0.1:\(port)/" }

    public func cut() {
        let sockets = state.withLock { state -> [Int32] in
            state.isOpen = false
            var all = Array(state.sockets)
            if state.listener >= 0 { all.append(state.listener) }
            state.listener = -1
            state.sockets = []
            return all
        }
        for fd in sockets {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
    }

    public func restore() throws {
        let listener = try Self.listen(port: port)
        state.withLock { $0.listener = listener; $0.isOpen = true }
        startAccepting(listener)
    }

    private func startAccepting(_ listener: Int32) {
        Thread { [self] in
            while true {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { return }
                let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var address = Self.loopback(port: targetPort)
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                    }
                }
                let open = state.withLock { state -> Bool in
                    guard state.isOpen, connected else { return false }
                    state.sockets.formUnion([client, upstream])
                    return true
                }
                guard open else { close(client); close(upstream); continue }
                pump(from: client, to: upstream)
                pump(from: upstream, to: client)
            }
        }.start()
    }

    private func pump(from source: Int32, to destination: Int32) {
        Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
                guard count > 0 else { break }
                var offset = 0
                while offset < count {
                    let written = buffer.withUnsafeBytes { write(destination, $0.baseAddress! + offset, count - offset) }
                    guard written > 0 else { break }
                    offset += written
                }
                guard offset == count else { break }
            }
            let owned = state.withLock { state -> Bool in
                let owned = state.sockets.contains(source)
                state.sockets.subtract([source, destination])
                return owned
            }
            if owned {
                shutdown(source, Int32(SHUT_RDWR))
                shutdown(destination, Int32(SHUT_RDWR))
                close(source)
                close(destination)
            }
        }.start()
    }

    private static func listen(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = loopback(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard bound, Glibc.listen(fd, 64) == 0 else {
            close(fd)
            throw RabbitMQFixtureError.commandFailed("proxy cannot listen on port \(port): errno \(errno)")
        }
        return fd
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
