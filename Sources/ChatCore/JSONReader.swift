/// A strict RFC 8259 reader from UTF-8 bytes straight to `JSONValue`: what `JSONValue.parse` uses, so
/// Chat3 answers, AMQP deliveries, Socket.IO packets and relay messages all take one fast path.
///
/// `JSONDecoder` with `JSONValue`'s `Decodable` conformance tries each type in turn and throws (and
/// discards) a `DecodingError` for every miss: several throws per string or object. On the hot paths that
/// cost more than the rest of the work; this reader produces the same values in one pass. It refuses what `JSONDecoder` refuses: invalid UTF-8, control characters in
/// strings, bad escapes, lone surrogates, trailing text, leading zeros, nesting deeper than `maxDepth`;
/// of duplicate keys the first wins, as there.
public enum JSONReader {
    /// Not JSON: `offset` is the byte where reading stopped.
    public struct Malformed: Error, Equatable, CustomStringConvertible {
        public let offset: Int
        public init(offset: Int) { self.offset = offset }
        public var description: String { "malformed JSON at byte \(offset)" }
    }

    /// Arrays and objects nested deeper than this are refused, so hostile input cannot exhaust the stack.
    public static let maxDepth = 512

    /// Reads one JSON text (fragments such as a bare string or number included) from UTF-8 bytes.
    public static func parse(_ bytes: some Sequence<UInt8>) throws(Malformed) -> JSONValue {
        let result = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(Malformed) in try parse(buffer: buffer) }
        }
        if let result { return try result.get() }
        return try Array(bytes).withUnsafeBufferPointer { buffer throws(Malformed) in try parse(buffer: buffer) }
    }

    private static func parse(buffer: UnsafeBufferPointer<UInt8>) throws(Malformed) -> JSONValue {
        var reader = Reader(bytes: buffer)
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.index == buffer.count else { throw Malformed(offset: reader.index) }
        return value
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        var failure: Malformed { Malformed(offset: index) }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func expect(_ literal: StaticString) throws(Malformed) {
            let count = literal.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw failure }
            let start = literal.utf8Start
            for offset in 0..<count where bytes[index + offset] != start[offset] { throw failure }
            index += count
        }

        mutating func value(depth: Int) throws(Malformed) -> JSONValue {
            guard index < bytes.count else { throw failure }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"):
                try expect("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try expect("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try expect("null")
                return .null
            default: return .number(try number())
            }
        }

        mutating func object(depth: Int) throws(Malformed) -> JSONValue {
            guard depth <= JSONReader.maxDepth else { throw failure }
            index += 1
            var object: [String: JSONValue] = [:]
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(object)
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw failure }
                let key = try string()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw failure }
                index += 1
                skipWhitespace()
                let member = try value(depth: depth)
                // The first of duplicate keys wins, as with JSONDecoder.
                if object[key] == nil { object[key] = member }
                skipWhitespace()
                guard index < bytes.count else { throw failure }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard bytes[index] == UInt8(ascii: "}") else { throw failure }
                index += 1
                return .object(object)
            }
        }

        mutating func array(depth: Int) throws(Malformed) -> JSONValue {
            guard depth <= JSONReader.maxDepth else { throw failure }
            index += 1
            var array: [JSONValue] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(array)
            }
            while true {
                skipWhitespace()
                array.append(try value(depth: depth))
                skipWhitespace()
                guard index < bytes.count else { throw failure }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard bytes[index] == UInt8(ascii: "]") else { throw failure }
                index += 1
                return .array(array)
            }
        }

        /// At the opening quote; leaves `index` after the closing one.
        mutating func string() throws(Malformed) -> String {
            index += 1
            let start = index
            // Fast path: no escapes.
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let text = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                    guard let text else { throw Malformed(offset: start) }
                    index += 1
                    return text
                }
                if byte == UInt8(ascii: "\\") { break }
                guard byte >= 0x20 else { throw failure }
                index += 1
            }
            guard index < bytes.count else { throw failure }
            // Slow path: copy what was plain, then decode escapes.
            var utf8 = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    guard let text = String(validating: utf8, as: UTF8.self) else { throw Malformed(offset: start) }
                    return text
                case UInt8(ascii: "\\"):
                    index += 1
                    guard index < bytes.count else { throw failure }
                    let escaped = bytes[index]
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escaped)
                    case UInt8(ascii: "b"): utf8.append(0x08)
                    case UInt8(ascii: "f"): utf8.append(0x0C)
                    case UInt8(ascii: "n"): utf8.append(0x0A)
                    case UInt8(ascii: "r"): utf8.append(0x0D)
                    case UInt8(ascii: "t"): utf8.append(0x09)
                    case UInt8(ascii: "u"):
                        let scalar = try unicodeEscape()
                        utf8.append(contentsOf: String(Character(scalar)).utf8)
                    default: throw failure
                    }
                default:
                    guard byte >= 0x20 else { throw failure }
                    utf8.append(byte)
                    index += 1
                }
            }
            throw failure
        }

        /// After `\u`: one scalar, joining a surrogate pair written as two escapes.
        mutating func unicodeEscape() throws(Malformed) -> Unicode.Scalar {
            let first = try hex4()
            if (0xD800...0xDBFF).contains(first) {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                else { throw failure }
                index += 2
                let second = try hex4()
                guard (0xDC00...0xDFFF).contains(second) else { throw failure }
                let combined = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                guard let scalar = Unicode.Scalar(combined) else { throw failure }
                return scalar
            }
            guard let scalar = Unicode.Scalar(first) else { throw failure }
            return scalar
        }

        mutating func hex4() throws(Malformed) -> UInt32 {
            guard index + 4 <= bytes.count else { throw failure }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw failure
                }
                value = value << 4 | UInt32(digit)
                index += 1
            }
            return value
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        mutating func number() throws(Malformed) -> Double {
            let start = index
            var integer: Int64 = 0
            var plainInteger = true
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw failure }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else {
                var digits = 0
                while index < bytes.count, isDigit(bytes[index]) {
                    integer = integer &* 10 &+ Int64(bytes[index] - UInt8(ascii: "0"))
                    digits += 1
                    index += 1
                }
                // Beyond 15 digits an Int64 may not convert exactly; let strtod round.
                if digits > 15 { plainInteger = false }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                plainInteger = false
                index += 1
                guard index < bytes.count, isDigit(bytes[index]) else { throw failure }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                plainInteger = false
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard index < bytes.count, isDigit(bytes[index]) else { throw failure }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            if plainInteger {
                let negative = bytes[start] == UInt8(ascii: "-")
                // -0 stays a negative zero, as JSONDecoder reads it.
                return negative ? -Double(integer) : Double(integer)
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            guard let value = Double(text), value.isFinite else { throw Malformed(offset: start) }
            return value
        }

        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    }
}
