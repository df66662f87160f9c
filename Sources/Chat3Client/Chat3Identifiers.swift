import ChatCore

/// Message kinds chatd lets clients send, as Chat3 names them.
public enum Chat3MessageType: String, Sendable, CaseIterable {
    case text = "internal.text"
    case image = "internal.image"
    case file = "internal.file"

    /// Our wire name (`text`, `image`, `file`).
    public init?(clientName: String) {
        switch clientName {
        case "text": self = .text
        case "image": self = .image
        case "file": self = .file
        default: return nil
        }
    }

    /// Media messages carry their content at `meta.url`.
    public var needsURL: Bool { self != .text }
}

/// Per-user message statuses chatd lets clients set.
public enum Chat3MessageStatus: String, Sendable, CaseIterable {
    case read
    case delivered
}

/// Builds Chat3 URLs: every path segment and query value percent-encoded, so no caller-supplied text can add
/// a segment, a query or a fragment.
public enum Chat3Path {
    /// RFC 3986 unreserved characters; everything else is encoded, `/`, `?`, `#`, `%` and `.` sequences included.
    public static func encode(_ segment: String) -> String {
        var out = ""
        out.reserveCapacity(segment.utf8.count)
        for byte in segment.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "."):
                // A lone "." or ".." segment would be resolved away by a server; encode dots always.
                out += "%2E"
            default:
                out += "%" + hex(byte >> 4) + hex(byte & 0x0F)
            }
        }
        return out
    }

    /// `/seg1/seg2…?k=v&…`, each part encoded.
    public static func make(_ segments: [String], query: [(String, String)] = []) -> String {
        var path = ""
        for segment in segments { path += "/" + encode(segment) }
        if !query.isEmpty {
            path += "?" + query.map { encode($0.0) + "=" + encode($0.1) }.joined(separator: "&")
        }
        return path
    }

    private static func hex(_ nibble: UInt8) -> String {
        String(UnicodeScalar(nibble < 10 ? nibble + 48 : nibble + 55))
    }
}
