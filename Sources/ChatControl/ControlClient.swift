import Foundation

/// A typed client for chatd's control socket: one method per endpoint, HTTP/1.1 + JSON over a Unix
/// socket through libcurl (`CurlUnixExchange`; chatctl needs no event loop for one request).
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

    /// Any endpoint, with its answer type: what the named methods above use, and what a new endpoint
    /// needs no method of its own for.
    public func call<Answer: Decodable>(_ endpoint: ControlEndpoint) async throws(ControlClientError) -> Answer {
        try await call(endpoint, body: Optional<NoBody>.none)
    }

    public func call<Answer: Decodable, Body: Encodable>(_ endpoint: ControlEndpoint, body: Body?) async throws(ControlClientError) -> Answer {
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
                    try CurlUnixExchange.perform(socketPath: socketPath, timeoutSeconds: timeout, method: method,
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

