import Foundation

/// A scalar in a filter or a field: Chat3 compares by type, so the numeric-looking id `123` never equals "123".
enum FilterScalar: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)

    static func parse(_ raw: Substring) -> FilterScalar {
        let text = raw.trimmingCharacters(in: .whitespaces)
        switch text {
        case "null": return .null
        case "true": return .bool(true)
        case "false": return .bool(false)
        default: break
        }
        if text.count >= 2, let first = text.first, first == "\"" || first == "'", text.last == first {
            return .string(String(text.dropFirst().dropLast()))
        }
        if isNumber(text), let number = Double(text) { return .number(number) }
        return .string(text)
    }

    /// `^-?\d+(\.\d+)?$`
    static func isNumber(_ text: String) -> Bool {
        var bytes = Substring(text).utf8[...]
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        let parts = bytes.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return false }
        if parts.count == 2 { return !parts[1].isEmpty && parts[1].allSatisfy { $0 >= 48 && $0 <= 57 } }
        return true
    }

    func compare(_ other: FilterScalar) -> ComparisonResult? {
        switch (self, other) {
        case (.number(let a), .number(let b)): a < b ? .orderedAscending : a > b ? .orderedDescending : .orderedSame
        case (.string(let a), .string(let b)): a < b ? .orderedAscending : a > b ? .orderedDescending : .orderedSame
        default: nil
        }
    }
}

/// What a document holds under a filter field.
enum FilterField: Sendable {
    case missing
    case scalar(FilterScalar)
    case list([FilterScalar])

    var scalars: [FilterScalar] {
        switch self {
        case .missing: []
        case .scalar(let value): [value]
        case .list(let values): values
        }
    }
}

/// Chat3's `queryParser.ts` filter language: `(field,op,value)` atoms joined by `&` or `|`, parenthesized groups.
indirect enum SimFilter: Sendable {
    enum Operand: Sendable {
        case scalar(FilterScalar)
        case list([FilterScalar])
    }

    enum Op: String, Sendable {
        case eq, ne, `in`, nin, all, gt, gte, lt, lte, regex, exists
    }

    case atom(field: String, op: Op, operand: Operand)
    case and([SimFilter])
    case or([SimFilter])

    struct ParseError: Error {
        var message: String
    }

    static let maxOperands = 12

    static func parse(_ text: String) throws(ParseError) -> SimFilter {
        var parser = Parser(chars: Array(text.trimmingCharacters(in: .whitespaces)))
        let filter = try parser.group()
        guard parser.atEnd else { throw ParseError(message: "unexpected text after filter") }
        return filter
    }

    /// Every field name the filter mentions, so callers can reject unsupported ones.
    var fields: [String] {
        switch self {
        case .atom(let field, _, _): [field]
        case .and(let items), .or(let items): items.flatMap(\.fields)
        }
    }

    func matches(_ resolve: (String) -> FilterField) -> Bool {
        switch self {
        case .and(let items): return items.allSatisfy { $0.matches(resolve) }
        case .or(let items): return items.contains { $0.matches(resolve) }
        case .atom(let field, let op, let operand):
            let value = resolve(field)
            let held = value.scalars
            switch (op, operand) {
            case (.eq, .scalar(let target)):
                if case .null = target, case .missing = value { return true }
                return held.contains(target)
            case (.ne, .scalar(let target)):
                if case .null = target, case .missing = value { return false }
                return !held.contains(target)
            case (.in, .list(let targets)):
                return held.contains(where: targets.contains)
            case (.nin, .list(let targets)):
                return !held.contains(where: targets.contains)
            case (.all, .list(let targets)):
                return targets.allSatisfy(held.contains)
            case (.gt, .scalar(let target)): return held.contains { $0.compare(target) == .orderedDescending }
            case (.gte, .scalar(let target)): return held.contains { $0.compare(target).map { $0 != .orderedAscending } ?? false }
            case (.lt, .scalar(let target)): return held.contains { $0.compare(target) == .orderedAscending }
            case (.lte, .scalar(let target)): return held.contains { $0.compare(target).map { $0 != .orderedDescending } ?? false }
            case (.regex, .scalar(let target)):
                let pattern: String
                switch target {
                case .string(let text): pattern = text
                case .number(let number): pattern = FilterScalar.isNumber(String(Int(number))) ? String(Int(number)) : "\(number)"
                default: return false
                }
                guard let regex = try? NSRegularExpression(pattern: pattern, options: [.caseInsensitive]) else { return false }
                return held.contains {
                    guard case .string(let text) = $0 else { return false }
                    return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
                }
            case (.exists, .scalar(.bool(let wanted))):
                if case .missing = value { return !wanted }
                if held == [.null] { return !wanted }
                return wanted
            default:
                return false
            }
        }
    }

    struct Parser {
        var chars: [Character]
        var index = 0

        var atEnd: Bool { index >= chars.count }

        mutating func skipSpaces() {
            while index < chars.count, chars[index] == " " { index += 1 }
        }

        /// term (('&'|'|') term)*
        mutating func group() throws(ParseError) -> SimFilter {
            var terms = [try term()]
            var joiner: Character?
            skipSpaces()
            while index < chars.count, chars[index] == "&" || chars[index] == "|" {
                let current = chars[index]
                if let joiner, joiner != current {
                    throw ParseError(message: "mixing & and | requires parentheses")
                }
                joiner = current
                index += 1
                terms.append(try term())
                skipSpaces()
            }
            guard terms.count <= SimFilter.maxOperands else {
                throw ParseError(message: "at most \(SimFilter.maxOperands) conditions per group")
            }
            if terms.count == 1 { return terms[0] }
            return joiner == "|" ? .or(terms) : .and(terms)
        }

        mutating func term() throws(ParseError) -> SimFilter {
            skipSpaces()
            guard index < chars.count, chars[index] == "(" else {
                throw ParseError(message: "expected ( at position \(index)")
            }
            index += 1
            skipSpaces()
            if index < chars.count, chars[index] == "(" {
                let inner = try group()
                skipSpaces()
                guard index < chars.count, chars[index] == ")" else { throw ParseError(message: "missing )") }
                index += 1
                return inner
            }
            guard let close = chars[index...].firstIndex(of: ")") else { throw ParseError(message: "missing )") }
            let body = String(chars[index..<close])
            index = close + 1
            let parts = body.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { throw ParseError(message: "expected (field,operator,value)") }
            let field = parts[0].trimmingCharacters(in: .whitespaces)
            guard !field.isEmpty else { throw ParseError(message: "empty field") }
            guard let op = Op(rawValue: parts[1].trimmingCharacters(in: .whitespaces)) else {
                throw ParseError(message: "unknown operator \(parts[1])")
            }
            let rawValue = parts[2].trimmingCharacters(in: .whitespaces)
            let operand: Operand
            if rawValue.hasPrefix("["), rawValue.hasSuffix("]") {
                let inner = rawValue.dropFirst().dropLast()
                operand = .list(inner.isEmpty ? [] : inner.split(separator: ",").map { FilterScalar.parse($0) })
            } else {
                operand = .scalar(FilterScalar.parse(Substring(rawValue)))
            }
            switch (op, operand) {
            case (.in, .scalar(let single)), (.nin, .scalar(let single)), (.all, .scalar(let single)):
                return .atom(field: field, op: op, operand: .list([single]))
            default:
                return .atom(field: field, op: op, operand: operand)
            }
        }
    }
}

/// `(field,asc|desc)`.
struct SimSort: Sendable {
    var field: String
    var ascending: Bool

    static func parse(_ text: String) -> SimSort? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("("), trimmed.hasSuffix(")") else { return nil }
        let parts = trimmed.dropFirst().dropLast().split(separator: ",")
        guard parts.count == 2 else { return nil }
        let direction = parts[1].trimmingCharacters(in: .whitespaces).lowercased()
        guard direction == "asc" || direction == "desc" else { return nil }
        return SimSort(field: parts[0].trimmingCharacters(in: .whitespaces), ascending: direction == "asc")
    }
}
