/// A parsed `amqp://user:pass@host:port/vhost` broker address.
///
/// User, password and vhost are percent-decoded. A missing or empty path means the default vhost `/`;
/// the default vhost can also be written `%2F`. `amqps` is refused: chatd talks to a broker on a
/// trusted network or through a local TLS terminator.
public struct AMQPURL: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var vhost: String

    public static let defaultPort = 5672

    public init(host: String, port: Int = AMQPURL.defaultPort, user: String = "guest",
                password: String = "guest", vhost: String = "/") {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.vhost = vhost
    }

    public init(_ text: String) throws(AMQPURLError) {
        let schemeSeparator = "://"
        guard let schemeEnd = text.range(of: schemeSeparator) else { throw .missingScheme }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "amqp" else { throw .unsupportedScheme(String(scheme)) }
        var rest = Substring(text[schemeEnd.upperBound...])
        if rest.contains("?") || rest.contains("#") { throw .queryNotSupported }

        var path: Substring? = nil
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var userInfo: Substring? = nil
        if let at = rest.lastIndex(of: "@") {
            userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }

        var user = "guest"
        var password = "guest"
        if let userInfo {
            let parts = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            user = try Self.percentDecoded(parts[0], part: "user")
            password = parts.count > 1 ? try Self.percentDecoded(parts[1], part: "password") : ""
            if user.isEmpty { throw .emptyUser }
        }

        let (host, port) = try Self.hostAndPort(rest)
        var vhost = "/"
        if let path, !path.isEmpty {
            if path.contains("/") { throw .invalidVhost(String(path)) }
            vhost = try Self.percentDecoded(path, part: "vhost")
        }
        self.init(host: host, port: port, user: user, password: password, vhost: vhost)
    }

    /// The URL with the password masked, safe for logs and status output.
    public var description: String {
        let vhostPart = vhost == "/" ? "" : Self.percentEncoded(vhost)
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "amqp://\(Self.percentEncoded(user)):***@\(hostPart):\(port)/\(vhostPart)"
    }

    private static func hostAndPort(_ text: Substring) throws(AMQPURLError) -> (String, Int) {
        var hostText = text
        var portText: Substring? = nil
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .invalidHost(String(text)) }
            hostText = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .invalidHost(String(text)) }
                portText = after.dropFirst()
            }
        } else if let colon = text.lastIndex(of: ":") {
            hostText = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !hostText.isEmpty else { throw .missingHost }
        var port = defaultPort
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw .invalidPort(String(portText))
            }
            port = value
        }
        return (String(hostText), port)
    }

    static func percentDecoded(_ text: Substring, part: String) throws(AMQPURLError) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                throw .invalidPercentEncoding(part: part)
            }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw .invalidPercentEncoding(part: part)
        }
        return decoded
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Percent-encodes everything but RFC 3986 unreserved characters.
    static func percentEncoded(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                result.unicodeScalars.append("%")
                result.unicodeScalars.append(hex[Int(byte >> 4)])
                result.unicodeScalars.append(hex[Int(byte & 0x0F)])
            }
        }
        return result
    }
}

/// Why an AMQP URL was refused.
public enum AMQPURLError: Error, Sendable, Hashable, CustomStringConvertible {
    case missingScheme
    case unsupportedScheme(String)
    case missingHost
    case invalidHost(String)
    case invalidPort(String)
    case emptyUser
    case invalidVhost(String)
    case invalidPercentEncoding(part: String)
    case queryNotSupported

    public var description: String {
        switch self {
        case .missingScheme: "AMQP URL must start with amqp://"
        case .unsupportedScheme(let scheme): "unsupported URL scheme '\(scheme)', expected amqp"
        case .missingHost: "AMQP URL has no host"
        case .invalidHost(let host): "invalid host '\(host)' in AMQP URL"
        case .invalidPort(let port): "invalid port '\(port)' in AMQP URL, expected 1-65535"
        case .emptyUser: "AMQP URL has credentials but an empty user name"
        case .invalidVhost(let vhost): "invalid vhost '\(vhost)': encode '/' inside a vhost name as %2F"
        case .invalidPercentEncoding(let part): "invalid percent-encoding in the \(part) of the AMQP URL"
        case .queryNotSupported: "AMQP URL query parameters are not supported"
        }
    }
}
