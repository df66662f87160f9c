import ChatCore
import Testing

@Suite("JSONValue")
struct JSONValueTests {
    @Test("parsing and serializing round-trips nested documents")
    func roundTrip() throws {
        let text = #"{"a":[1,2.5,"x",null,true],"b":{"c":"é\n"}}"#
        let value = try JSONValue.parse(text)
        #expect(try JSONValue.parse(value.serialized()) == value)
        #expect(value["b"]?["c"]?.stringValue == "é\n")
        #expect(value["a"]?.arrayValue?.first?.intValue == 1)
    }

    @Test("integers serialize without a fraction")
    func integers() {
        #expect(JSONValue.object(["n": 42]).serialized() == #"{"n":42}"#)
        #expect(JSONValue.number(2.5).serialized() == "2.5")
    }

    @Test("malformed JSON throws")
    func malformed() {
        #expect(throws: (any Error).self) { try JSONValue.parse("{bad") }
    }
}
