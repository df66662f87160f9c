import Foundation

/// A Chat3 timestamp: Unix epoch microseconds. Chat3 stores milliseconds with a fractional part and shows them
/// as strings with exactly six decimals (`"1763551369397.648000"`); raw documents keep the number.
struct SimTime: Sendable, Hashable, Comparable {
    var micros: Int64

    static func < (lhs: SimTime, rhs: SimTime) -> Bool { lhs.micros < rhs.micros }

    /// The sanitized REST form.
    var string: String {
        let millis = micros / 1000
        let fraction = Int(micros % 1000)
        let padded = fraction < 10 ? "00\(fraction)" : fraction < 100 ? "0\(fraction)" : "\(fraction)"
        return "\(millis).\(padded)000"
    }

    var json: SimJSON { .string(string) }

    /// Milliseconds as a number, as raw Mongoose documents and filters see it.
    var millis: Double { Double(micros) / 1000 }
}

/// Hands out strictly increasing timestamps, so ordering by `createdAt` is always well defined.
struct SimClock: Sendable {
    private var last: Int64 = 0

    mutating func now() -> SimTime {
        let wall = Int64(Date().timeIntervalSince1970 * 1_000_000)
        last = max(wall, last + 1)
        return SimTime(micros: last)
    }
}

/// Chat3 identifier formats and the URL-parameter validators of `tenant-api`.
enum SimID {
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
    static let hexDigits = Array("0123456789abcdef".utf8)

    static func random(prefix: String, count: Int, from characters: [UInt8]) -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = Array(prefix.utf8)
        for _ in 0..<count { bytes.append(characters.randomElement(using: &generator)!) }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func dialog() -> String { random(prefix: "dlg_", count: 20, from: alphabet) }
    static func message() -> String { random(prefix: "msg_", count: 20, from: alphabet) }
    static func event() -> String { random(prefix: "evt_", count: 32, from: hexDigits) }
    static func tenant() -> String { random(prefix: "tnt_", count: 8, from: alphabet) }
    /// A Mongo ObjectId look-alike for raw documents.
    static func objectID() -> String { random(prefix: "", count: 24, from: hexDigits) }

    static func isEntityID(_ text: String, prefix: String) -> Bool {
        let bytes = text.utf8
        guard bytes.count == prefix.utf8.count + 20, text.hasPrefix(prefix) else { return false }
        return bytes.dropFirst(prefix.utf8.count).allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) }
    }

    static func isDialogID(_ text: String) -> Bool { isEntityID(text, prefix: "dlg_") }
    static func isMessageID(_ text: String) -> Bool { isEntityID(text, prefix: "msg_") }
    static func isTopicID(_ text: String) -> Bool { isEntityID(text, prefix: "topic_") }

    /// A user id is a routing-key segment: non-empty, at most 100 characters, no dots.
    static func isUserID(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 100 && !text.contains(".")
    }

    /// Message status slugs: `^[a-zA-Z0-9_-]{1,64}$`.
    static func isStatus(_ text: String) -> Bool {
        let bytes = text.utf8
        return (1...64).contains(bytes.count) && bytes.allSatisfy {
            ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 95 || $0 == 45
        }
    }
}
