/// The part of TOML that chatd's config file uses: `[tables]`, `key = value` with strings, integers,
/// floats, booleans and one-line arrays, and `#` comments. Anything else is a clear syntax error
/// naming the line, never a silent misread.
public struct TOMLDocument: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case string(String)
        case integer(Int)
        case float(Double)
        case bool(Bool)
        case array([Value])
    }

    /// Values by dotted key (`store.url`), in file order.
    public private(set) var values: [(key: String, value: Value, line: Int)] = []

    public static func == (lhs: TOMLDocument, rhs: TOMLDocument) -> Bool {
        lhs.values.map(\.key) == rhs.values.map(\.key) && lhs.values.map(\.value) == rhs.values.map(\.value)
    }

    public struct SyntaxError: Error, Equatable, Sendable {
        public let line: Int
        public let reason: String
    }

    public subscript(key: String) -> Value? { values.last { $0.key == key }?.value }

    public init(parsing text: String) throws(SyntaxError) {
        var table = ""
        var seen = Set<String>()
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            var scanner = Scanner(Array(rawLine.unicodeScalars), line: lineNumber)
            scanner.skipSpaces()
            if scanner.atEndOrComment { continue }
            if scanner.peek == "[" {
                scanner.advance()
                let name = try scanner.readKey()
                guard scanner.consume("]") else { throw SyntaxError(line: lineNumber, reason: "expected ] after table name") }
                scanner.skipSpaces()
                guard scanner.atEndOrComment else { throw SyntaxError(line: lineNumber, reason: "unexpected text after table") }
                table = name
                continue
            }
            let key = try scanner.readKey()
            scanner.skipSpaces()
            guard scanner.consume("=") else { throw SyntaxError(line: lineNumber, reason: "expected = after key '\(key)'") }
            scanner.skipSpaces()
            let value = try scanner.readValue()
            scanner.skipSpaces()
            guard scanner.atEndOrComment else { throw SyntaxError(line: lineNumber, reason: "unexpected text after value") }
            let fullKey = table.isEmpty ? key : "\(table).\(key)"
            guard seen.insert(fullKey).inserted else {
                throw SyntaxError(line: lineNumber, reason: "key '\(fullKey)' is defined twice")
            }
            values.append((fullKey, value, lineNumber))
        }
    }
}

private struct Scanner {
    let scalars: [Unicode.Scalar]
    let line: Int
    var position = 0

    init(_ scalars: [Unicode.Scalar], line: Int) {
        // Tolerate Windows line endings.
        self.scalars = scalars.last == "\r" ? Array(scalars.dropLast()) : scalars
        self.line = line
    }

    var peek: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }
    var atEndOrComment: Bool { peek == nil || peek == "#" }

    mutating func advance() { position += 1 }

    mutating func skipSpaces() {
        while let c = peek, c == " " || c == "\t" { advance() }
    }

    mutating func consume(_ c: Unicode.Scalar) -> Bool {
        guard peek == c else { return false }
        advance()
        return true
    }

    func fail(_ reason: String) -> TOMLDocument.SyntaxError { .init(line: line, reason: reason) }

    /// A bare or dotted key: `[A-Za-z0-9_-]` parts joined by dots.
    mutating func readKey() throws(TOMLDocument.SyntaxError) -> String {
        skipSpaces()
        var key = ""
        while let c = peek {
            if c.properties.isAlphabetic && c.isASCII || ("0"..."9").contains(c) || c == "_" || c == "-" || c == "." {
                key.unicodeScalars.append(c)
                advance()
            } else { break }
        }
        skipSpaces()
        guard !key.isEmpty, !key.hasPrefix("."), !key.hasSuffix("."), !key.contains("..") else {
            throw fail("expected a key")
        }
        return key
    }

    mutating func readValue() throws(TOMLDocument.SyntaxError) -> TOMLDocument.Value {
        guard let c = peek else { throw fail("expected a value") }
        switch c {
        case "\"": return .string(try readBasicString())
        case "'": return .string(try readLiteralString())
        case "[": return try readArray()
        default: return try readScalar()
        }
    }

    mutating func readBasicString() throws(TOMLDocument.SyntaxError) -> String {
        advance()
        var text = ""
        while let c = peek {
            advance()
            switch c {
            case "\"": return text
            case "\\":
                guard let e = peek else { throw fail("unfinished escape") }
                advance()
                switch e {
                case "n": text.append("\n")
                case "t": text.append("\t")
                case "r": text.append("\r")
                case "\"": text.append("\"")
                case "\\": text.append("\\")
                case "u", "U":
                    let width = e == "u" ? 4 : 8
                    guard position + width <= scalars.count,
                          let code = UInt32(String(String.UnicodeScalarView(scalars[position..<position + width])), radix: 16),
                          let scalar = Unicode.Scalar(code)
                    else { throw fail("bad unicode escape") }
                    position += width
                    text.unicodeScalars.append(scalar)
                default: throw fail("unknown escape \\\(e)")
                }
            default: text.unicodeScalars.append(c)
            }
        }
        throw fail("unterminated string")
    }

    mutating func readLiteralString() throws(TOMLDocument.SyntaxError) -> String {
        advance()
        var text = ""
        while let c = peek {
            advance()
            if c == "'" { return text }
            text.unicodeScalars.append(c)
        }
        throw fail("unterminated string")
    }

    mutating func readArray() throws(TOMLDocument.SyntaxError) -> TOMLDocument.Value {
        advance()
        var items: [TOMLDocument.Value] = []
        while true {
            skipSpaces()
            if consume("]") { return .array(items) }
            items.append(try readValue())
            skipSpaces()
            if consume(",") { continue }
            guard consume("]") else { throw fail("expected , or ] in array (arrays must fit on one line)") }
            return .array(items)
        }
    }

    mutating func readScalar() throws(TOMLDocument.SyntaxError) -> TOMLDocument.Value {
        var word = ""
        while let c = peek, c != " ", c != "\t", c != ",", c != "]", c != "#" {
            word.unicodeScalars.append(c)
            advance()
        }
        if word == "true" { return .bool(true) }
        if word == "false" { return .bool(false) }
        let digits = word.replacingOccurrences(of: "_", with: "")
        if let integer = Int(digits) { return .integer(integer) }
        if let float = Double(digits), digits.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
            return .float(float)
        }
        throw fail(word.isEmpty ? "expected a value" : "cannot read value '\(word)' (strings need quotes)")
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
