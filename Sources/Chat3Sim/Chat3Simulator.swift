import ChatCore
import Hummingbird
import Logging

/// What a simulator instance emulates and where it listens.
public struct Chat3SimConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port.
    public var port: Int
    /// The one key that starts out valid, with `read,write,delete`.
    public var apiKey: String
    public var exchange: String
    public var generation: UpdateGeneration
    /// How long after the HTTP response Updates are published.
    public var publishDelay: Duration
    /// Also publish the counter-worker's Updates (contract §7.4); current generation only.
    public var counterUpdates: Bool

    public init(host: String = "127.0.0.1", port: Int = 3000, apiKey: String, exchange: String = "chat3_updates",
                generation: UpdateGeneration = .current, publishDelay: Duration = .milliseconds(50),
                counterUpdates: Bool = false) {
        self.host = host
        self.port = port
        self.apiKey = apiKey
        self.exchange = exchange
        self.generation = generation
        self.publishDelay = publishDelay
        self.counterUpdates = counterUpdates
    }
}

/// The Chat3 emulator: a transport-independent `handle(_:)` plus an HTTP server around it.
public final class Chat3Simulator: Sendable {
    public let configuration: Chat3SimConfiguration
    let state: SimState
    let dispatcher: UpdateDispatcher
    let publisher: any UpdatePublishing
    let logger: Logger

    public init(configuration: Chat3SimConfiguration, publisher: any UpdatePublishing,
                logger: Logger = Logger(label: "chat3-sim")) {
        self.configuration = configuration
        self.publisher = publisher
        self.logger = logger
        self.state = SimState(apiKey: configuration.apiKey, generation: configuration.generation,
                              exchange: configuration.exchange, counterUpdates: configuration.counterUpdates)
        self.dispatcher = UpdateDispatcher(publisher: publisher, delay: configuration.publishDelay, logger: logger)
    }

    /// Declares the exchange and starts the publishing worker.
    public func start() async throws {
        try await publisher.prepare(exchange: configuration.exchange)
        await dispatcher.start()
    }

    /// Publishes what is still queued, then closes the publisher.
    public func shutdown() async {
        await dispatcher.flush()
        await dispatcher.stop()
        await publisher.close()
    }

    /// Waits until every Update produced so far has been published.
    public func flushUpdates() async { await dispatcher.flush() }

    /// Updates published so far (also failed attempts), oldest first.
    public func publishedUpdates() async -> [PublishedUpdate] { await dispatcher.records.map(\.update) }

    // MARK: Requests

    public func handle(_ request: SimRequest) async -> SimResponse {
        let segments = SimRoute.segments(of: request.path)
        guard let route = SimRoute.match(method: request.method, segments: segments) else {
            await state.logRequest(request)
            return SimError.routeNotFound(method: request.method, path: request.path).response
        }
        var body: JSONValue?
        if !request.body.isEmpty, request.headers["content-type"]?.contains("json") == true {
            guard let parsed = try? JSONValue.parse(request.body), parsed.objectValue != nil || parsed.arrayValue != nil
            else {
                await state.logRequest(request)
                return SimError.malformedJSON.response
            }
            body = parsed
        }
        var outcome = await state.process(route, request, body: body, firstAttempt: true)
        if case .injected(.hang(let milliseconds)) = outcome {
            try? await Task.sleep(for: .milliseconds(milliseconds))
            outcome = await state.process(route, request, body: body, firstAttempt: false)
        }
        switch outcome {
        case .reply(let status, let json, let updates):
            if !updates.isEmpty { await dispatcher.enqueue(updates) }
            guard let json else { return .noContent() }
            return .json(status: status, json)
        case .failure(let error):
            return error.response
        case .injected(.status(let status)):
            return .json(status: status, SimError.envelope(Self.reason(status), "Simulated failure"))
        case .injected(.hang):
            return .json(status: 500, SimError.envelope("Internal Server Error", "Simulated failure"))
        case .hook(let route):
            return await hook(route, request, body: body)
        }
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 429: "Too Many Requests"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Internal Server Error"
        }
    }

    private func hook(_ route: SimRoute, _ request: SimRequest, body: JSONValue?) async -> SimResponse {
        switch route {
        case .simRequests:
            let items = await state.loggedRequests().map(\.json)
            return .json(status: 200, .obj(["data": .array(items)]))
        case .simReset:
            await dispatcher.flush()
            await state.reset()
            await dispatcher.clearRecords()
            return .json(status: 200, .obj(["message": "reset"]))
        case .simUpdates:
            let items = await dispatcher.records.map { record in
                SimJSON.obj([
                    "exchange": .string(record.update.exchange), "routingKey": .string(record.update.routingKey),
                    "headers": .object(record.update.headers.keys.sorted().map { .init($0, .string(record.update.headers[$0]!)) }),
                    "body": .raw(record.update.body), "error": .opt(record.error),
                ])
            }
            return .json(status: 200, .obj(["data": .array(items)]))
        case .simFlush:
            await dispatcher.flush()
            return .json(status: 200, .obj(["message": "flushed"]))
        case .simFailClear:
            await state.clearFaults()
            return .json(status: 200, .obj(["message": "faults cleared"]))
        case .simFail:
            let object = body?.objectValue ?? [:]
            let mode: SimFault.Mode
            if let milliseconds = object["hangMs"]?.intValue, milliseconds >= 0 {
                mode = .hang(milliseconds: milliseconds)
            } else {
                let status = object["status"]?.intValue ?? 500
                guard (400...599).contains(status) else {
                    return SimError.badRequest("status must be 400-599").response
                }
                mode = .status(status)
            }
            let count = object["count"]?.intValue
            if let count, count < 1 { return SimError.badRequest("count must be at least 1").response }
            await state.addFault(SimFault(mode: mode, remaining: count, pathPrefix: object["path"]?.stringValue,
                                          method: object["method"]?.stringValue))
            return .json(status: 200, .obj(["message": "fault armed"]))
        case .simKeys:
            let object = body?.objectValue ?? [:]
            guard let key = object["key"]?.stringValue, !key.isEmpty else {
                return SimError.badRequest("key is required").response
            }
            let permissions = object["permissions"]?.arrayValue?.compactMap(\.stringValue) ?? ["read", "write", "delete"]
            await state.setKey(key, APIKeyRecord(permissions: Set(permissions),
                                                 active: object["active"]?.boolValue ?? true))
            return .json(status: 200, .obj(["message": "key set"]))
        default:
            return SimError.internalError("unhandled hook").response
        }
    }

    // MARK: HTTP

    /// Serves HTTP until cancelled or, when `handleSignals`, SIGTERM/SIGINT; `onListening` gets the bound port.
    public func run(handleSignals: Bool = true, onListening: @escaping @Sendable (Int) async -> Void = { _ in })
        async throws
    {
        try await start()
        let responder = CallbackResponder<BasicRequestContext> { [self] request, _ in
            try await self.respond(to: request)
        }
        let app = Application(
            responder: responder,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port)),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        do {
            try await app.runService(gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [])
        } catch {
            await shutdown()
            throw error
        }
        await shutdown()
    }

    private func respond(to request: Request) async throws -> Response {
        var headers: [String: String] = [:]
        for field in request.headers {
            let name = field.name.canonicalName
            if name == "x-api-key" || name == "x-tenant-id" || name == "content-type", headers[name] == nil {
                headers[name] = field.value
            }
        }
        var body: [UInt8] = []
        if request.method != .get, request.method != .head {
            let buffer = try await request.body.collect(upTo: 4 << 20)
            body = Array(buffer.readableBytesView)
        }
        let simRequest = SimRequest(method: request.method.rawValue, path: request.uri.path,
                                    query: request.uri.query ?? "", headers: headers, body: body)
        let reply = await handle(simRequest)
        var responseHeaders = HTTPFields()
        if let contentType = reply.contentType { responseHeaders[.contentType] = contentType }
        return Response(status: .init(code: reply.status), headers: responseHeaders,
                        body: .init(byteBuffer: ByteBuffer(bytes: reply.body)))
    }
}
