import ChatCore
import Foundation

/// A request as the emulator sees it, independent of the HTTP server, so tests can drive it in-process.
public struct SimRequest: Sendable {
    public var method: String
    /// The raw (percent-encoded) path, without the query.
    public var path: String
    /// The raw query string, without `?`.
    public var query: String
    /// Header names lowercased.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(method: String, path: String, query: String = "", headers: [String: String] = [:],
                body: [UInt8] = []) {
        self.method = method.uppercased()
        self.path = path
        self.query = query
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
        self.body = body
    }

    /// Builds a request from a path that may carry a query (`/api/dialogs?page=2`) and a JSON body.
    public init(_ method: String, _ target: String, apiKey: String?, tenant: String? = nil, json: JSONValue? = nil) {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var headers: [String: String] = [:]
        if let apiKey { headers["x-api-key"] = apiKey }
        if let tenant { headers["x-tenant-id"] = tenant }
        var body: [UInt8] = []
        if let json {
            headers["content-type"] = "application/json"
            body = Array(json.serialized().utf8)
        }
        self.init(method: method, path: String(parts[0]), query: parts.count > 1 ? String(parts[1]) : "",
                  headers: headers, body: body)
    }
}

/// A finished response.
public struct SimResponse: Sendable {
    public var status: Int
    public var contentType: String?
    public var body: [UInt8]

    public init(status: Int, contentType: String?, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    static func json(status: Int, _ value: SimJSON) -> SimResponse {
        SimResponse(status: status, contentType: "application/json; charset=utf-8", body: value.bytes())
    }

    static func noContent() -> SimResponse { SimResponse(status: 204, contentType: nil, body: []) }

    /// Express's default error page.
    static func html(status: Int, pre: String) -> SimResponse {
        let page = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>Error</title>
            </head>
            <body>
            <pre>\(pre)</pre>
            </body>
            </html>

            """
        return SimResponse(status: status, contentType: "text/html; charset=utf-8", body: Array(page.utf8))
    }

    /// The body parsed as JSON, for tests and tools.
    public var json: JSONValue? { body.isEmpty ? nil : try? JSONValue.parse(body) }
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Query-string parsing as Express's `qs` does it for flat keys: `+` is a space, values percent-decoded,
/// the first occurrence of a key wins.
struct SimQuery {
    private(set) var values: [String: String] = [:]

    init(_ raw: String) {
        guard !raw.isEmpty else { return }
        for pair in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = Self.decode(parts[0])
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            if values[key] == nil { values[key] = value }
        }
    }

    static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    subscript(key: String) -> String? { values[key] }
}
