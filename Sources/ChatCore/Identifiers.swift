import Foundation

/// Errors of values that come from outside: requests, command lines, files.
public enum ValidationError: Error, Equatable, Sendable {
    case invalidPhone(String)
    case invalidName(String)
    case invalidUserID(String)
    case invalidDialogID(String)
    case invalidMessageID(String)

    /// A human sentence, safe to show to the caller.
    public var message: String {
        switch self {
        case .invalidPhone(let why): "invalid phone: \(why)"
        case .invalidName(let why): "invalid name: \(why)"
        case .invalidUserID(let why): "invalid user id: \(why)"
        case .invalidDialogID(let why): "invalid dialog id: \(why)"
        case .invalidMessageID(let why): "invalid message id: \(why)"
        }
    }
}

/// Our user identifier: `usr_` followed by 8 characters of `[a-z0-9]`.
public struct UserID: RawRepresentable, Codable, Sendable, Hashable, CustomStringConvertible {
    public static let prefix = "usr_"
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")

    public let rawValue: String

    /// Accepts only our own format, so nothing else can reach a store query or a Chat3 URL.
    public init?(rawValue: String) {
        guard rawValue.hasPrefix(Self.prefix) else { return nil }
        let tail = rawValue.utf8.dropFirst(Self.prefix.utf8.count)
        guard tail.count == 8, tail.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) }) else {
            return nil
        }
        self.rawValue = rawValue
    }

    public init(validating text: String) throws(ValidationError) {
        guard let id = UserID(rawValue: text) else {
            throw .invalidUserID("expected usr_ and 8 characters of a-z0-9")
        }
        self = id
    }

    /// A fresh random id. `randomElement(using:)` draws uniformly, so every character is unbiased;
    /// the system generator is the kernel's CSPRNG.
    public static func generate<G: RandomNumberGenerator>(using generator: inout G) -> UserID {
        var text = prefix
        for _ in 0..<8 { text.append(alphabet.randomElement(using: &generator)!) }
        return UserID(rawValue: text)!
    }

    public static func generate() -> UserID {
        var generator = SystemRandomNumberGenerator()
        return generate(using: &generator)
    }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = UserID(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad userId"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A phone number normalized to its digits, e.g. `79001234567`.
public struct Phone: Codable, Sendable, Hashable, CustomStringConvertible {
    public let digits: String

    /// Accepts E.164-ish input: an optional leading `+`, ASCII digits, spaces, dashes, dots and
    /// parentheses. Works on Unicode scalars, not characters: a digit followed by a combining mark is
    /// one `Character` that compares between "0" and "9", and would make a new phone of the same number.
    /// Other digits (Arabic-Indic, full-width) are refused too. A Russian trunk prefix `8` on an
    /// 11-digit number becomes `7`, the seed's format.
    public init(normalizing input: String) throws(ValidationError) {
        let scalars = Array(input.unicodeScalars)
        var start = scalars.startIndex
        var end = scalars.endIndex
        while start < end, scalars[start] == " " || scalars[start] == "\t" { start += 1 }
        while end > start, scalars[end - 1] == " " || scalars[end - 1] == "\t" { end -= 1 }
        guard start < end else { throw .invalidPhone("phone is required") }
        var digits = ""
        for index in start..<end {
            let scalar = scalars[index]
            switch scalar.value {
            case 0x30...0x39: digits.unicodeScalars.append(scalar)
            case 0x2B where index == start: continue // "+"
            case 0x20, 0x2D, 0x28, 0x29, 0x2E: continue // space - ( ) .
            default:
                throw .invalidPhone("only ASCII digits, spaces, dashes, dots, parentheses and a leading + are allowed")
            }
        }
        guard digits.count >= 11, digits.count <= 15 else {
            throw .invalidPhone("expected 11 to 15 digits, e.g. 79001234567")
        }
        if digits.count == 11, digits.hasPrefix("8") { digits = "7" + digits.dropFirst() }
        guard !digits.hasPrefix("0") else { throw .invalidPhone("a phone number cannot start with 0") }
        self.digits = digits
    }

    /// For values read back from a store, which were normalized when written.
    public init(storedDigits: String) { self.digits = storedDigits }

    public var description: String { digits }

    public init(from decoder: any Decoder) throws {
        self.digits = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(digits)
    }
}

/// A display name: trimmed, 1 to 100 characters, no control characters.
public struct UserName: Codable, Sendable, Hashable, CustomStringConvertible {
    public static let maxLength = 100
    public let value: String

    public init(validating input: String) throws(ValidationError) {
        let trimmed = input.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw .invalidName("name is required") }
        guard trimmed.count <= Self.maxLength else { throw .invalidName("at most \(Self.maxLength) characters") }
        guard !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalidName("control characters are not allowed")
        }
        self.value = trimmed
    }

    public init(storedValue: String) { self.value = storedValue }

    public var description: String { value }

    public init(from decoder: any Decoder) throws {
        self.value = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

/// A dialog id, as Chat3 makes them: `dlg_` followed by 20 characters of `[a-z0-9]`. Only validated ids reach a URL.
public struct DialogID: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String

    public init?(rawValue: String) {
        guard Chat3IDFormat.matches(rawValue, prefix: "dlg_", length: 20) else { return nil }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }
}

/// A Chat3 message id: `msg_` followed by 20 characters of `[a-z0-9]`.
public struct MessageID: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String

    public init?(rawValue: String) {
        guard Chat3IDFormat.matches(rawValue, prefix: "msg_", length: 20) else { return nil }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }
}

enum Chat3IDFormat {
    static func matches(_ text: String, prefix: String, length: Int) -> Bool {
        guard text.hasPrefix(prefix) else { return false }
        let tail = text.utf8.dropFirst(prefix.utf8.count)
        return tail.count == length && tail.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) }
    }
}
