import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A typed client for chatd's control socket: one method per endpoint, HTTP/1.1 + JSON over a Unix
/// socket with plain POSIX calls (chatctl needs no event loop for one request).
public struct ControlClient: Sendable {
    public let socketPath: String
    public var timeoutSeconds: Int

    public init(socketPath: String, timeoutSeconds: Int = 30) {
        self.socketPath = socketPath
        self.timeoutSeconds = timeoutSeconds
    }

    // MARK: Endpoints

    public func status() async throws(ControlClientError) -> DaemonStatus {
        try await call(.status)
    }

    public func connections() async throws(ControlClientError) -> ConnectionList {
        try await call(.connections)
    }

    public func kick(userId: String) async throws(ControlClientError) -> KickResult {
        try await call(.kick, body: KickRequest(userId: userId))
    }

    public func drain() async throws(ControlClientError) -> DrainResult {
        try await call(.drain)
    }

    public func reload() async throws(ControlClientError) -> ReloadResult {
        try await call(.reload)
    }

    public func setLogLevel(_ level: ControlLogLevel) async throws(ControlClientError) -> LogLevelResult {
        try await call(.logLevel, body: LogLevelRequest(level: level))
    }

    public func shutdown() async throws(ControlClientError) -> ShutdownResult {
        try await call(.shutdown)
    }

    // MARK: Plumbing

    struct NoBody: Encodable {}

    func call<Answer: Decodable>(_ endpoint: ControlEndpoint) async throws(ControlClientError) -> Answer {
        try await call(endpoint, body: Optional<NoBody>.none)
    }

    func call<Answer: Decodable, Body: Encodable>(_ endpoint: ControlEndpoint, body: Body?) async throws(ControlClientError) -> Answer {
        var data: [UInt8] = []
        if let body {
            guard let encoded = try? ControlJSON.encoder().encode(body) else {
                throw .protocolError("cannot encode the request")
            }
            data = Array(encoded)
        }
        let response = try await send(method: endpoint.method, path: endpoint.path, body: data)
        guard (200..<300).contains(response.status) else { throw Self.failure(response, socketPath: socketPath) }
        do {
            return try ControlJSON.decoder().decode(Answer.self, from: Data(response.body))
        } catch {
            throw .protocolError("unexpected answer to \(endpoint.path): \(error)")
        }
    }

    /// The one place a non-2xx answer becomes a `ControlClientError`: by its wire code, else by status.
    static func failure(_ response: ControlHTTPResponse, socketPath: String) -> ControlClientError {
        let body = try? ControlJSON.decoder().decode(ControlErrorBody.self, from: Data(response.body))
        let message = body?.error ?? "HTTP \(response.status)"
        switch body?.code {
        case .forbidden?: return .permissionDenied(socketPath: socketPath, operatorGroup: body?.operatorGroup)
        case .originRefused?: return .originRefused(message)
        case .badRequest?: return .badRequest(message)
        case .notFound?: return .notFound(message)
        case .invalidConfig?: return .invalidConfig(message)
        case .internalError?: return .server(message)
        case nil:
            switch response.status {
            case 403: return .permissionDenied(socketPath: socketPath, operatorGroup: nil)
            case 400, 422: return .badRequest(message)
            case 404: return .notFound(message)
            default: return .server(message)
            }
        }
    }

    /// Sends one request and reads one response. `headers` lets tests send what chatctl never does.
    public func send(method: String, path: String, headers: [(String, String)] = [], body: [UInt8] = [])
        async throws(ControlClientError) -> ControlHTTPResponse
    {
        let socketPath = socketPath
        let timeout = timeoutSeconds
        // Blocking socket calls on their own thread, not on the cooperative pool.
        let result: Result<ControlHTTPResponse, ControlClientError> = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: Result {
                    try UnixHTTPExchange.perform(socketPath: socketPath, timeoutSeconds: timeout, method: method,
                                                 path: path, headers: headers, body: body)
                }.mapError { $0 as? ControlClientError ?? .protocolError("\($0)") })
            }
        }
        return try result.get()
    }
}

/// A parsed HTTP/1.1 response.
public struct ControlHTTPResponse: Sendable {
    public var status: Int
    /// Header names lowercased.
    public var headers: [String: String]
    public var body: [UInt8]

    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// One HTTP/1.1 request/response over a fresh Unix-socket connection (`Connection: close`).
enum UnixHTTPExchange {
    static func perform(socketPath: String, timeoutSeconds: Int, method: String, path: String,
                        headers: [(String, String)], body: [UInt8]) throws(ControlClientError) -> ControlHTTPResponse {
        let fd = try connect(socketPath: socketPath, timeoutSeconds: timeoutSeconds)
        defer { close(fd) }
        var request = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nUser-Agent: chatctl\r\nAccept: application/json\r\n"
        request += "Connection: close\r\nContent-Length: \(body.count)\r\n"
        if !body.isEmpty { request += "Content-Type: application/json\r\n" }
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        try write(fd, Array(request.utf8) + body, socketPath: socketPath)
        return try readResponse(fd, socketPath: socketPath)
    }

    static func connect(socketPath: String, timeoutSeconds: Int) throws(ControlClientError) -> Int32 {
        #if canImport(Glibc)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw .transport(socketPath: socketPath, errno: errno, "socket: \(describe(errno))") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(socketPath.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else {
            close(fd)
            throw .transport(socketPath: socketPath, errno: ENAMETOOLONG, "socket path longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if result != 0 {
            let code = errno
            close(fd)
            switch code {
            case ENOENT, ECONNREFUSED: throw .notRunning(socketPath: socketPath)
            case EACCES, EPERM: throw .permissionDenied(socketPath: socketPath, operatorGroup: nil)
            case ENOTDIR: throw .notRunning(socketPath: socketPath)
            default: throw .transport(socketPath: socketPath, errno: code, "connect: \(describe(code))")
            }
        }
        return fd
    }

    static func write(_ fd: Int32, _ bytes: [UInt8], socketPath: String) throws(ControlClientError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw .timedOut(socketPath: socketPath) }
                throw .transport(socketPath: socketPath, errno: errno, "send: \(describe(errno))")
            }
            offset += written
        }
    }

    static func readResponse(_ fd: Int32, socketPath: String) throws(ControlClientError) -> ControlHTTPResponse {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        var parsedHead: (status: Int, headers: [String: String], bodyStart: Int)?
        while true {
            if parsedHead == nil, let end = headEnd(buffer) {
                parsedHead = try parseHead(Array(buffer[..<end]))
                parsedHead?.bodyStart = end + 4
            }
            if let head = parsedHead {
                let received = Array(buffer[head.bodyStart...])
                if let length = head.headers["content-length"].flatMap(Int.init), received.count >= length {
                    return ControlHTTPResponse(status: head.status, headers: head.headers, body: Array(received.prefix(length)))
                }
                if head.headers["transfer-encoding"]?.lowercased().contains("chunked") == true,
                   let decoded = dechunk(received) {
                    return ControlHTTPResponse(status: head.status, headers: head.headers, body: decoded)
                }
            }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw .timedOut(socketPath: socketPath) }
                throw .transport(socketPath: socketPath, errno: errno, "recv: \(describe(errno))")
            }
            if count == 0 {
                // The peer closed: whatever came after the head is the body (no length given).
                guard let head = parsedHead else {
                    throw .protocolError("chatd closed the connection without answering")
                }
                return ControlHTTPResponse(status: head.status, headers: head.headers, body: Array(buffer[head.bodyStart...]))
            }
            buffer.append(contentsOf: chunk[..<count])
        }
    }

    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }

    static func parseHead(_ bytes: [UInt8]) throws(ControlClientError) -> (status: Int, headers: [String: String], bodyStart: Int) {
        let lines = String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw .protocolError("not an HTTP answer on the control socket")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, headers, 0)
    }

    /// Decodes a complete chunked body, or nil while it is incomplete.
    static func dechunk(_ bytes: [UInt8]) -> [UInt8]? {
        var output: [UInt8] = []
        var index = 0
        while true {
            guard let lineEnd = findCRLF(bytes, from: index) else { return nil }
            let sizeText = String(decoding: bytes[index..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
            index = lineEnd + 2
            if size == 0 { return output }
            guard bytes.count >= index + size + 2 else { return nil }
            output.append(contentsOf: bytes[index..<(index + size)])
            index += size + 2
        }
    }

    static func findCRLF(_ bytes: [UInt8], from start: Int) -> Int? {
        var index = start
        while index + 1 < bytes.count {
            if bytes[index] == 13 && bytes[index + 1] == 10 { return index }
            index += 1
        }
        return nil
    }

    static func describe(_ code: Int32) -> String { String(cString: strerror(code)) }
}
