import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A typed client for the parts of the RabbitMQ management HTTP API that `chatctl queue` needs.
///
/// Queue counters come from the management statistics, which the broker refreshes every few seconds
/// (`collect_statistics_interval`, 5 s by default): they lag behind the queue by up to that much.
public struct RabbitManagementClient: Sendable {
    public let baseURL: URL
    private let authorization: String
    private let session: URLSession

    /// `url` is like `http://guest:guest@127.0.0.1:15672`; the credentials become Basic auth.
    public init(url: String, timeout: Duration = .seconds(5)) throws(RabbitManagementError) {
        guard var components = URLComponents(string: url),
              let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
              components.host?.isEmpty == false else {
            throw .invalidURL(url)
        }
        let user = components.user ?? "guest"
        let password = components.password ?? "guest"
        components.user = nil
        components.password = nil
        components.path = components.path.hasSuffix("/") ? String(components.path.dropLast()) : components.path
        guard let base = components.url else { throw .invalidURL(url) }
        self.init(baseURL: base, user: user, password: password, timeout: timeout)
    }

    public init(baseURL: URL, user: String, password: String, timeout: Duration = .seconds(5)) {
        self.baseURL = baseURL
        self.authorization = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        let configuration = URLSessionConfiguration.ephemeral
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        configuration.timeoutIntervalForRequest = seconds
        configuration.timeoutIntervalForResource = seconds * 2
        self.session = URLSession(configuration: configuration, delegate: RefuseChallenges(), delegateQueue: nil)
    }

    // MARK: Endpoints

    /// Queues of `vhost` whose name starts with `prefix` (all when empty), sorted by name.
    public func listQueues(prefix: String = "", vhost: String = "/") async throws(RabbitManagementError) -> [RabbitQueue] {
        // Filtered and paged by the broker: a busy vhost holds one queue per connected user.
        let columns = "name,vhost,messages_ready,messages_unacknowledged,consumers,durable,auto_delete,arguments"
        var filter = ""
        if !prefix.isEmpty { filter = "&use_regex=true&name=" + segment("^" + Self.regexEscaped(prefix)) }
        var queues: [RabbitQueue] = []
        var page = 1
        while true {
            let result: Page<RabbitQueue> = try await get(
                "/api/queues/\(segment(vhost))?page=\(page)&page_size=\(Self.pageSize)&columns=\(columns)\(filter)")
            queues += result.items
            if page >= result.pageCount { break }
            page += 1
        }
        // The regex filter is a pre-selection; the prefix test is exact.
        return queues.filter { $0.name.hasPrefix(prefix) }.sorted { $0.name < $1.name }
    }

    /// One queue with its bindings (the default exchange's implicit binding left out).
    public func queue(_ name: String, vhost: String = "/") async throws(RabbitManagementError) -> RabbitQueueDetails {
        let path = "/api/queues/\(segment(vhost))/\(segment(name))"
        let queue: RabbitQueue = try await get(path)
        let bindings: [RabbitBinding] = try await get(path + "/bindings")
        return RabbitQueueDetails(queue: queue, bindings: bindings.filter { !$0.source.isEmpty })
    }

    /// Up to `count` messages from the head of the queue, left in place (fetched and requeued, so the
    /// broker marks them redelivered).
    public func peek(queue name: String, count: Int = 10, vhost: String = "/") async throws(RabbitManagementError) -> [RabbitPeekedMessage] {
        let body = #"{"count":\#(max(1, count)),"ackmode":"ack_requeue_true","encoding":"auto","truncate":1048576}"#
        let raw: [RawPeekedMessage] = try await send("POST", "/api/queues/\(segment(vhost))/\(segment(name))/get",
                                                     body: Data(body.utf8))
        return raw.map(\.message)
    }

    /// Drops every ready message of the queue (unacknowledged ones stay with their consumer).
    public func purge(queue name: String, vhost: String = "/") async throws(RabbitManagementError) {
        let _: Empty = try await send("DELETE", "/api/queues/\(segment(vhost))/\(segment(name))/contents", body: nil)
    }

    // MARK: HTTP

    private struct Empty: Decodable {}

    private static let pageSize = 500

    private struct Page<Item: Decodable>: Decodable {
        var items: [Item]
        var pageCount: Int

        enum CodingKeys: String, CodingKey {
            case items
            case pageCount = "page_count"
        }
    }

    /// Escapes every character but letters and digits, which PCRE then matches literally.
    static func regexEscaped(_ text: String) -> String {
        var result = ""
        for character in text {
            if !(character.isASCII && (character.isLetter || character.isNumber)) { result.append("\\") }
            result.append(character)
        }
        return result
    }

    private func get<T: Decodable>(_ path: String) async throws(RabbitManagementError) -> T {
        try await send("GET", path, body: nil)
    }

    private func send<T: Decodable>(_ method: String, _ path: String, body: Data?) async throws(RabbitManagementError) -> T {
        guard let url = URL(string: baseURL.absoluteString + path) else { throw .invalidURL(path) }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue(authorization, forHTTPHeaderField: "Authorization")
        // No Accept header: the API answers 406 to `Accept: application/json` on body-less DELETEs.
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = body
        }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch let error as URLError where error.code == .cancelled {
            throw .unauthorized // see RefuseChallenges
        } catch {
            throw .unreachable(underlying: error.localizedDescription)
        }
        guard let status = (response as? HTTPURLResponse)?.statusCode else { throw .invalidResponse }
        switch status {
        case 200..<300: break
        case 401: throw .unauthorized
        case 404: throw .notFound
        default: throw .http(status: status)
        }
        if T.self == Empty.self { return Empty() as! T }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw .invalidResponse
        }
    }

    /// One path segment, percent-encoded (the default vhost `/` becomes `%2F`).
    private func segment(_ text: String) -> String { AMQPURL.percentEncoded(text) }
}

/// Credentials always go out with the request; an authentication challenge means they were refused.
/// Cancelling it matters on Linux, where the default handling of a 401 challenge never completes the
/// request.
private final class RefuseChallenges: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask, didReceive challenge: URLAuthenticationChallenge,
                    completionHandler: @escaping @Sendable (URLSession.AuthChallengeDisposition, URLCredential?) -> Void) {
        completionHandler(.cancelAuthenticationChallenge, nil)
    }
}

/// Errors of the management API client.
public enum RabbitManagementError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalidURL(String)
    /// No answer: the broker is down, the management plugin is disabled, or the URL is wrong.
    case unreachable(underlying: String)
    /// The vhost or queue does not exist.
    case notFound
    /// The credentials were refused.
    case unauthorized
    case http(status: Int)
    case invalidResponse

    public var description: String {
        switch self {
        case .invalidURL(let url): "invalid management URL '\(url)', expected http://user:pass@host:15672"
        case .unreachable(let underlying): "RabbitMQ management API unreachable: \(underlying)"
        case .notFound: "not found"
        case .unauthorized: "RabbitMQ management API refused the credentials"
        case .http(let status): "RabbitMQ management API answered HTTP \(status)"
        case .invalidResponse: "unexpected answer from the RabbitMQ management API"
        }
    }
}

public struct RabbitQueue: Sendable, Hashable, Decodable {
    public var name: String
    public var vhost: String
    public var messagesReady: Int
    public var messagesUnacknowledged: Int
    public var consumers: Int
    public var durable: Bool
    public var autoDelete: Bool
    /// Queue arguments with integer values (`x-expires`, `x-message-ttl`, ...).
    public var arguments: [String: Int]

    enum CodingKeys: String, CodingKey {
        case name, vhost, consumers, durable, arguments
        case messagesReady = "messages_ready"
        case messagesUnacknowledged = "messages_unacknowledged"
        case autoDelete = "auto_delete"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        vhost = try container.decodeIfPresent(String.self, forKey: .vhost) ?? "/"
        // Counters are missing until the broker has collected statistics for a new queue.
        messagesReady = try container.decodeIfPresent(Int.self, forKey: .messagesReady) ?? 0
        messagesUnacknowledged = try container.decodeIfPresent(Int.self, forKey: .messagesUnacknowledged) ?? 0
        consumers = try container.decodeIfPresent(Int.self, forKey: .consumers) ?? 0
        durable = try container.decodeIfPresent(Bool.self, forKey: .durable) ?? false
        autoDelete = try container.decodeIfPresent(Bool.self, forKey: .autoDelete) ?? false
        let rawArguments = (try? container.decodeIfPresent([String: IntOrOther].self, forKey: .arguments)) ?? nil
        arguments = (rawArguments ?? [:]).compactMapValues(\.int)
    }
}

private struct IntOrOther: Decodable {
    var int: Int?
    init(from decoder: any Decoder) throws {
        int = try? decoder.singleValueContainer().decode(Int.self)
    }
}

public struct RabbitBinding: Sendable, Hashable, Decodable {
    /// The exchange.
    public var source: String
    public var routingKey: String

    public init(source: String, routingKey: String) {
        self.source = source
        self.routingKey = routingKey
    }

    enum CodingKeys: String, CodingKey {
        case source
        case routingKey = "routing_key"
    }
}

public struct RabbitQueueDetails: Sendable, Hashable {
    public var queue: RabbitQueue
    public var bindings: [RabbitBinding]
}

public struct RabbitPeekedMessage: Sendable, Hashable {
    public var exchange: String
    public var routingKey: String
    public var redelivered: Bool
    public var payload: [UInt8]
    /// The full size; `payload` is cut at 1 MiB.
    public var payloadBytes: Int
    /// String-valued message headers.
    public var headers: [String: String]
    /// Messages left in the queue after this one, as the broker counted when fetching.
    public var remaining: Int
}

private struct RawPeekedMessage: Decodable {
    struct Properties: Decodable {
        var headers: [String: StringOrOther]?
    }
    struct StringOrOther: Decodable {
        var string: String?
        init(from decoder: any Decoder) throws {
            string = try? decoder.singleValueContainer().decode(String.self)
        }
    }

    var exchange: String
    var routing_key: String
    var redelivered: Bool
    var payload: String
    var payload_encoding: String
    var payload_bytes: Int
    var message_count: Int
    var properties: Properties?

    enum CodingKeys: String, CodingKey {
        case exchange, routing_key, redelivered, payload, payload_encoding, payload_bytes, message_count, properties
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        exchange = try container.decode(String.self, forKey: .exchange)
        routing_key = try container.decode(String.self, forKey: .routing_key)
        redelivered = try container.decode(Bool.self, forKey: .redelivered)
        payload = try container.decode(String.self, forKey: .payload)
        payload_encoding = try container.decode(String.self, forKey: .payload_encoding)
        payload_bytes = try container.decode(Int.self, forKey: .payload_bytes)
        message_count = try container.decode(Int.self, forKey: .message_count)
        // An empty property set comes as `[]`, not `{}`.
        properties = try? container.decodeIfPresent(Properties.self, forKey: .properties)
    }

    var message: RabbitPeekedMessage {
        let bytes: [UInt8] = payload_encoding == "base64"
            ? Array(Data(base64Encoded: payload) ?? Data())
            : Array(payload.utf8)
        return RabbitPeekedMessage(exchange: exchange, routingKey: routing_key, redelivered: redelivered,
                                   payload: bytes, payloadBytes: payload_bytes,
                                   headers: (properties?.headers ?? [:]).compactMapValues(\.string),
                                   remaining: message_count)
    }
}
