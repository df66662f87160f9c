import ChatCore
import Foundation
import Testing

/// Every JSON text the project reads goes through `JSONReader` (`JSONValue.parse`); it must give exactly
/// what Foundation's `JSONDecoder` gives, and refuse what it refuses.
@Suite("JSON reader")
struct JSONReaderTests {
    /// The reference: JSONDecoder through JSONValue's Decodable conformance.
    static func foundation(_ bytes: [UInt8]) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    static let documents: [String] = [
        #"{}"#, #"[]"#, #"{"a":[]}"#, " \n\t{ \"a\" : 1 } \r\n", #"null"#, #"true"#, #"false"#, #""text""#, #"0"#, #"-0"#,
        #"12"#, #"-12"#, #"3.25"#, #"-0.5e-3"#, #"1E10"#, #"6.02e+23"#, #"123456789012345"#, #"1234567890123456789"#,
        #"9007199254740993"#, #"0.1"#, #"1e-320"#,
        #"{"data":[],"pagination":{"page":1,"limit":20,"total":0,"pages":0}}"#,
        #"{"data":[{"dialogId":"dlg_0123456789abcdefghij","meta":{"name":"Team","createdBy":"usr_alice001"},"unreadCount":3,"lastSeenAt":null,"isMuted":false,"lastMessage":{"content":"hi","createdAt":1800000000123.5}}],"pagination":{"page":1,"limit":10,"total":1,"pages":1}}"#,
        #"{"s":"a\"b\\c\/d\b\f\n\r\t"}"#, #"{"u":"\u00e9\u4e2d\ud83d\udc4d"}"#, #"{"plain":"é中👍"}"#, #"{"mixed":"x\u0041y👍\n"}"#,
        #"{"":""}"#, #"[[[[[]]]]]"#, #"[1,"a",true,null,{"k":[2.5]}]"#, #"{"dup":1,"dup":2}"#,
    ]

    @Test("well-formed documents read the same as with JSONDecoder, from bytes, Data and String", arguments: documents)
    func sameAsFoundation(text: String) throws {
        let bytes = Array(text.utf8)
        let ours = try JSONReader.parse(bytes)
        let reference = try Self.foundation(bytes)
        #expect(ours == reference)
        if case .number(let a) = ours, case .number(let b) = reference { #expect(a.sign == b.sign) }
        #expect(try JSONValue.parse(Data(bytes)) == reference)
        #expect(try JSONValue.parse(text) == reference)
        #expect(try JSONValue.parse(bytes[...]) == reference)
    }

    static let malformed: [String] = [
        "", " ", "{", "}", "[", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "[1 2]", "01", "-", "1.", ".5", "1e", "1e+",
        "+1", "tru", "nul", "True", "\"abc", "\"a\\x\"", "\"\\u12\"", "\"\\ud83d\"", "\"\\udc4d\"", "\"\\ud83d\\u0041\"",
        "\"tab\there\"", "\"nl\nhere\"", "{} {}", "[] x", "1e400", "NaN", "Infinity", "'a'",
        String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
    ]

    @Test("malformed documents are refused, as JSONDecoder refuses them", arguments: malformed)
    func refused(text: String) {
        #expect(throws: JSONReader.Malformed.self) { try JSONReader.parse(Array(text.utf8)) }
        #expect(throws: JSONReader.Malformed.self) { try JSONValue.parse(text) }
        // Foundation's decoder tolerates trailing commas; ours keeps to RFC 8259.
        if !text.hasSuffix(",]"), !text.hasSuffix(",}") {
            #expect(throws: (any Error).self) { try Self.foundation(Array(text.utf8)) }
        }
    }

    @Test("nesting up to maxDepth is read; one level deeper is refused at the offending bracket")
    func depthLimit() throws {
        let depth = JSONReader.maxDepth
        let deepest = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        var value = try JSONValue.parse(deepest)
        for _ in 1..<depth { value = try #require(value.arrayValue?.first) }
        #expect(value == [])
        let mixed = String(repeating: "{\"a\":[", count: depth / 2) + "1" + String(repeating: "]}", count: depth / 2)
        #expect(throws: Never.self) { try JSONValue.parse(mixed) }
        let tooDeep = "[" + deepest + "]"
        #expect(throws: JSONReader.Malformed(offset: depth)) { try JSONReader.parse(Array(tooDeep.utf8)) }
    }

    @Test("unicode escapes: BMP characters, surrogate pairs joined, escaped NUL, lone or reversed surrogates refused")
    func unicodeEscapes() throws {
        #expect(try JSONValue.parse(#""\u00e9\u4E2D""#) == "é中")
        #expect(try JSONValue.parse(#""\ud83d\udc4d""#) == "👍")
        #expect(try JSONValue.parse(#""\uD834\uDD1E""#) == "𝄞")
        #expect(try JSONValue.parse(#""a\u0000b""#) == .string("a\u{0}b"))
        #expect(try JSONValue.parse("\"👍 é\"") == "👍 é")
        for bad in [#""\udc4d\ud83d""#, #""\ud83d""#, #""\ud83dx""#, #""\ud83d\n""#, #""\uZZZZ""#, #""\u00e""#] {
            #expect(throws: JSONReader.Malformed.self, "\(bad)") { try JSONValue.parse(bad) }
        }
    }

    @Test("numbers: integers exact up to 2^53, fractions and exponents as Double, negative zero kept, overflow refused")
    func numbers() throws {
        #expect(try JSONValue.parse("9007199254740992") == .number(9_007_199_254_740_992))
        #expect(try JSONValue.parse("-9007199254740992") == .number(-9_007_199_254_740_992))
        #expect(try JSONValue.parse("1800000000123.5") == .number(1_800_000_000_123.5))
        #expect(try JSONValue.parse("2.5e-3") == .number(0.0025))
        #expect(try JSONValue.parse("1E3") == .number(1000))
        guard case .number(let zero) = try JSONValue.parse("-0") else { Issue.record("-0 is not a number"); return }
        #expect(zero == 0 && zero.sign == .minus)
        #expect(try JSONValue.parse("1e308") == .number(1e308))
        for bad in ["1e309", "-1e309", "00", "-01", "1.e3", "0x10", "1_000"] {
            #expect(throws: JSONReader.Malformed.self, "\(bad)") { try JSONValue.parse(bad) }
        }
    }

    @Test("the error tells where reading stopped")
    func errorOffset() {
        #expect(throws: JSONReader.Malformed(offset: 7)) { try JSONReader.parse(Array(#"{"a":1 "b":2}"#.utf8)) }
        #expect(throws: JSONReader.Malformed(offset: 3)) { try JSONReader.parse(Array("[1,]".utf8)) }
    }

    @Test("invalid UTF-8 in a string is refused")
    func invalidUTF8() {
        #expect(throws: JSONReader.Malformed.self) { try JSONReader.parse([0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: JSONReader.Malformed.self) { try JSONReader.parse([0x22, 0x5C, 0x6E, 0xFF, 0x22]) }
        #expect(throws: JSONReader.Malformed.self) { try JSONReader.parse([0x5B, 0xFF, 0x5D]) }
    }
}
