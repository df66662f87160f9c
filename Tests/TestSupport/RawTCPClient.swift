import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP connection for tests that speak HTTP by hand: half-sent requests, silent connections,
/// unknown methods. Blocking calls with a receive timeout; each test owns its connections.
public final class RawTCPClient: @unchecked Sendable {
    // The descriptor is used by one test task at a time and closed once.
    private var descriptor: Int32
    /// Bytes read past the last answer `readResponse` returned (a keep-alive connection's next one).
    private var unread: [UInt8] = []

    /// - Parameter source: the local address to connect from (another 127.x address is another client).
    public init(port: Int, host: String = "127.0.0.1", source: String? = nil) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, source, &local.sin_addr)
            _ = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            Glibc.close(descriptor)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .ECONNREFUSED)
        }
    }

    public func send(_ text: String) {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { return }
            sent += count
        }
    }

    /// Everything the peer sends until it closes the connection or `timeoutSeconds` pass; `closed` tells which.
    public func readUntilClosed(timeoutSeconds: Double) -> (text: String, closed: Bool) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let left = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
            guard poll(&poller, 1, min(left, 200)) > 0 else { continue }
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count <= 0 { return (String(decoding: received, as: UTF8.self), true) }
            received += buffer[0..<count]
        }
        return (String(decoding: received, as: UTF8.self), false)
    }

    /// One HTTP answer on a keep-alive connection: the head and a `Content-Length` body, leaving the
    /// connection open. Nil when the peer closes first or `timeoutSeconds` pass.
    public func readResponse(timeoutSeconds: Double) -> String? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while true {
            if let end = Self.answerLength(unread) {
                let answer = String(decoding: unread[0..<end], as: UTF8.self)
                unread.removeFirst(end)
                return answer
            }
            guard Date() < deadline else { return nil }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let left = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
            guard poll(&poller, 1, min(left, 200)) > 0 else { continue }
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count <= 0 { return nil }
            unread += buffer[0..<count]
        }
    }

    /// The length of the first complete answer in `bytes` (head and `Content-Length` body), if there is one.
    private static func answerLength(_ bytes: [UInt8]) -> Int? {
        let separator = Array("\r\n\r\n".utf8)
        guard bytes.count >= separator.count,
              let headEnd = (0...(bytes.count - separator.count)).first(where: { bytes[$0..<$0 + 4].elementsEqual(separator) })
        else { return nil }
        let head = String(decoding: bytes[0..<headEnd], as: UTF8.self).lowercased()
        let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        let total = headEnd + separator.count + length
        return bytes.count >= total ? total : nil
    }

    /// Sends one request with `Connection: close` and returns the whole answer (status line first).
    public static func request(_ text: String, port: Int, source: String? = nil, timeoutSeconds: Double = 10) throws -> String {
        let client = try RawTCPClient(port: port, source: source)
        defer { client.close() }
        client.send(text)
        return client.readUntilClosed(timeoutSeconds: timeoutSeconds).text
    }

    public func close() {
        guard descriptor >= 0 else { return }
        Glibc.close(descriptor)
        descriptor = -1
    }

    deinit { close() }
}
