import ChatCore

/// A JSON value with ordered object keys, written straight to bytes.
///
/// Responses are built as `SimJSON` rather than `JSONValue` because key order makes the output readable and
/// writing without Foundation's encoder keeps the hot list endpoints cheap. Writing an object drops keys whose
/// value is `null`, which is exactly Chat3's `sanitizeResponse` null omission.
enum SimJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([SimJSON])
    case object([Field])
    /// Already-serialized JSON, embedded as is (published Update bodies in `/_sim/updates`).
    case raw([UInt8])

    struct Field: Sendable, Equatable {
        var key: String
        var value: SimJSON
        init(_ key: String, _ value: SimJSON) {
            self.key = key
            self.value = value
        }
    }

    static func obj(_ pairs: KeyValuePairs<String, SimJSON>) -> SimJSON {
        .object(pairs.map { Field($0.key, $0.value) })
    }

    /// A string, or null (omitted) when absent.
    static func opt(_ text: String?) -> SimJSON { text.map { .string($0) } ?? .null }

    subscript(key: String) -> SimJSON? {
        guard case .object(let fields) = self else { return nil }
        return fields.first(where: { $0.key == key })?.value
    }

    /// Returns a copy with `value` set for `key` (replacing an existing key in place, else appended).
    func setting(_ key: String, _ value: SimJSON) -> SimJSON {
        guard case .object(var fields) = self else { return self }
        if let index = fields.firstIndex(where: { $0.key == key }) {
            fields[index].value = value
        } else {
            fields.append(Field(key, value))
        }
        return .object(fields)
    }

    // MARK: Conversion from parsed request JSON

    init(_ value: JSONValue) {
        switch value {
        case .null: self = .null
        case .bool(let flag): self = .bool(flag)
        case .number(let number):
            if number.rounded() == number, abs(number) < 9.007_199_254_740_992e15 {
                self = .int(Int(number))
            } else {
                self = .double(number)
            }
        case .string(let text): self = .string(text)
        case .array(let items): self = .array(items.map(SimJSON.init))
        case .object(let object):
            self = .object(object.keys.sorted().map { Field($0, SimJSON(object[$0]!)) })
        }
    }

    // MARK: Writing

    func bytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out)
        return out
    }

    var text: String { String(decoding: bytes(), as: UTF8.self) }

    func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .int(let number): out.append(contentsOf: String(number).utf8)
        case .double(let number):
            if number.isFinite {
                out.append(contentsOf: number.description.utf8)
            } else {
                out.append(contentsOf: "null".utf8)
            }
        case .string(let text): Self.writeString(text, into: &out)
        case .raw(let bytes): out.append(contentsOf: bytes)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            var first = true
            for item in items {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                item.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            var first = true
            for field in fields {
                if case .null = field.value { continue }
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                Self.writeString(field.key, into: &out)
                out.append(UInt8(ascii: ":"))
                field.value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    static func writeString(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
