@testable import Chat3Client
import ChatCore
import Foundation
import Testing

/// Chat3's answers are read by `Chat3JSONReader`; it must give exactly what `JSONValue.parse` gives, and
/// refuse what it refuses.
@Suite("Chat3 JSON reader")
struct Chat3JSONReaderTests {
    static let documents: [String] = [
        #"{}"#, #"[]"#, #"{"a":[]}"#, " \n\t{ \"a\" : 1 } \r\n", #"null"#, #"true"#, #"false"#, #""text""#, #"0"#, #"-0"#,
        #"12"#, #"-12"#, #"3.25"#, #"-0.5e-3"#, #"1E10"#, #"6.02e+23"#, #"123456789012345"#, #"1234567890123456789"#,
        #"9007199254740993"#, #"0.1"#, #"1e-320"#,
        #"{"data":[],"pagination":{"page":1,"limit":20,"total":0,"pages":0}}"#,
        #"{"data":[{"dialogId":"dlg_0123456789abcdefghij","meta":{"name":"Team","createdBy":"usr_alice001"},"unreadCount":3,"lastSeenAt":null,"isMuted":false,"lastMessage":{"content":"hi","createdAt":1800000000123.5}}],"pagination":{"page":1,"limit":10,"total":1,"pages":1}}"#,
        #"{"s":"a\"b\\c\/d\b\f\n\r\t"}"#, #"{"u":"\u00e9\u4e2d\ud83d\udc4d"}"#, #"{"plain":"é中👍"}"#, #"{"mixed":"x\u0041y👍\n"}"#,
        #"{"":""}"#, #"[[[[[]]]]]"#, #"[1,"a",true,null,{"k":[2.5]}]"#, #"{"dup":1,"dup":2}"#,
    ]

    @Test("well-formed documents read the same as JSONValue.parse", arguments: documents)
    func sameAsFoundation(text: String) throws {
        let bytes = Array(text.utf8)
        let ours = try Chat3JSONReader.parse(bytes)
        let reference = try JSONValue.parse(Data(bytes))
        #expect(ours == reference)
        if case .number(let a) = ours, case .number(let b) = reference { #expect(a.sign == b.sign) }
    }

    static let malformed: [String] = [
        "", " ", "{", "}", "[", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "[1 2]", "01", "-", "1.", ".5", "1e", "1e+",
        "+1", "tru", "nul", "True", "\"abc", "\"a\\x\"", "\"\\u12\"", "\"\\ud83d\"", "\"\\udc4d\"", "\"\\ud83d\\u0041\"",
        "\"tab\there\"", "\"nl\nhere\"", "{} {}", "[] x", "1e400", "NaN", "Infinity", "'a'",
        String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
    ]

    @Test("malformed documents are refused", arguments: malformed)
    func refused(text: String) {
        #expect(throws: Chat3JSONReader.Malformed.self) { try Chat3JSONReader.parse(Array(text.utf8)) }
    }

    @Test("invalid UTF-8 in a string is refused")
    func invalidUTF8() {
        #expect(throws: Chat3JSONReader.Malformed.self) { try Chat3JSONReader.parse([0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: Chat3JSONReader.Malformed.self) { try Chat3JSONReader.parse([0x22, 0x5C, 0x6E, 0xFF, 0x22]) }
        #expect(throws: Chat3JSONReader.Malformed.self) { try Chat3JSONReader.parse([0x5B, 0xFF, 0x5D]) }
    }
}
