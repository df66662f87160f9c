import ChatCore
import Testing
@testable import SocketIO

/// Examples from the Engine.IO protocol 4 documentation and engine.io-parser.
@Suite("Engine.IO codec")
struct EngineIOCodecTests {
    @Test("documented text packets decode to their type and data", arguments: [
        ("0", EngineIOPacket(.open)),
        ("1", EngineIOPacket(.close)),
        ("2", EngineIOPacket(.ping)),
        ("2probe", EngineIOPacket(.ping, "probe")),
        ("3probe", EngineIOPacket(.pong, "probe")),
        ("4hello", EngineIOPacket(.message, "hello")),
        ("4HelloWorld", EngineIOPacket(.message, "HelloWorld")),
        ("5", EngineIOPacket(.upgrade)),
        ("6", EngineIOPacket(.noop)),
        ("bAQIDBA==", EngineIOPacket(binary: [1, 2, 3, 4])),
    ])
    func documentedPackets(text: String, packet: EngineIOPacket) throws {
        #expect(try EngineIOPacket.decode(text) == packet)
        #expect(packet.encoded == text)
    }

    @Test("documented polling payloads split on the record separator")
    func documentedPayloads() throws {
        #expect(try EngineIOPayload.decode("4hello\u{1e}4€€€") == [
            EngineIOPacket(.message, "hello"), EngineIOPacket(.message, "€€€"),
        ])
        #expect(try EngineIOPayload.decode("4hello\u{1e}bAQID") == [
            EngineIOPacket(.message, "hello"), EngineIOPacket(binary: [1, 2, 3]),
        ])
        #expect(try EngineIOPayload.decode("2probe\u{1e}4test\u{1e}1") == [
            EngineIOPacket(.ping, "probe"), EngineIOPacket(.message, "test"), EngineIOPacket(.close),
        ])
        #expect(try EngineIOPayload.decode("42[\"hello\"]\u{1e}42[\"world\"]").count == 2)
        #expect(EngineIOPayload.encode([EngineIOPacket(.message, "hello"), EngineIOPacket(binary: [1, 2, 3])])
            == "4hello\u{1e}bAQID")
    }

    @Test("the handshake has the reference server's keys and values")
    func handshake() throws {
        let open = EngineIOSession.openPacket(
            sid: "lv_VI97HAXpY6yYWAAAC", transport: .polling, configuration: EngineIOConfiguration())
        #expect(open == #"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#)
        let webSocketOpen = EngineIOSession.openPacket(
            sid: "x", transport: .websocket, configuration: EngineIOConfiguration())
        #expect(try JSONValue.parse(String(webSocketOpen.dropFirst()))["upgrades"] == [])
    }

    @Test("malformed packets are errors", arguments: [
        ("", SocketIOProtocolError.emptyPacket),
        ("7", .invalidPacketType),
        ("abc", .invalidPacketType),
        ("/4", .invalidPacketType),
        ("b!!!", .invalidBase64),
    ])
    func malformedPackets(text: String, error: SocketIOProtocolError) {
        #expect(throws: error) { try EngineIOPacket.decode(text) }
    }

    @Test("an empty record in a payload is an error, not an empty packet")
    func emptyRecord() {
        #expect(throws: SocketIOProtocolError.emptyPacket) { try EngineIOPayload.decode("4a\u{1e}\u{1e}4b") }
        #expect(throws: SocketIOProtocolError.emptyPacket) { try EngineIOPayload.decode("") }
    }

    @Test("a payload over maxPayload bytes is refused before decoding")
    func oversizePayload() {
        let body = "4" + String(repeating: "é", count: 600)
        #expect(throws: SocketIOProtocolError.payloadTooLarge) { try EngineIOPayload.decode(body, maxPayload: 1000) }
        #expect((try? EngineIOPayload.decode(body, maxPayload: 1201)) != nil)
    }

    @Test("query strings select transport and session like the reference server")
    func requestTarget() throws {
        #expect(try EngineIORequestTarget(query: ["EIO": "4", "transport": "polling"])
            == EngineIORequestTarget(transport: .polling, sid: nil))
        #expect(try EngineIORequestTarget(query: ["EIO": "4", "transport": "websocket", "sid": "abc"])
            == EngineIORequestTarget(transport: .websocket, sid: "abc"))
        #expect(throws: EngineIORequestError.unsupportedProtocolVersion) {
            try EngineIORequestTarget(query: ["EIO": "3", "transport": "polling"])
        }
        #expect(throws: EngineIORequestError.unknownTransport) {
            try EngineIORequestTarget(query: ["EIO": "4", "transport": "flash"])
        }
    }

    @Test("request errors carry the reference server's status and JSON body")
    func requestErrorBodies() {
        #expect(EngineIORequestError.unknownSessionID.httpStatus == 400)
        #expect(EngineIORequestError.unknownSessionID.body == #"{"code":1,"message":"Session ID unknown"}"#)
        #expect(EngineIORequestError.unknownTransport.body == #"{"code":0,"message":"Transport unknown"}"#)
        #expect(EngineIORequestError.badRequest.body == #"{"code":3,"message":"Bad request"}"#)
        #expect(EngineIORequestError.payloadTooLarge.httpStatus == 413)
    }

    @Test("random packets survive encode then decode")
    func packetRoundTrip() throws {
        var random = SeededRandom(seed: 1)
        for _ in 0..<2000 {
            let packet = random.chance(20)
                ? EngineIOPacket(binary: random.bytes(maxLength: 40))
                : EngineIOPacket(random.pick(EngineIOPacketType.allCases), random.string().replacingOccurrences(of: "\u{1e}", with: ""))
            #expect(try EngineIOPacket.decode(packet.encoded) == packet)
        }
    }

    @Test("random payloads survive encode then decode")
    func payloadRoundTrip() throws {
        var random = SeededRandom(seed: 2)
        for _ in 0..<500 {
            let packets = (0..<random.int(1...6)).map { _ in
                random.chance(20)
                    ? EngineIOPacket(binary: random.bytes(maxLength: 20))
                    : EngineIOPacket(.message, random.string().replacingOccurrences(of: "\u{1e}", with: ""))
            }
            #expect(try EngineIOPayload.decode(EngineIOPayload.encode(packets)) == packets)
        }
    }

    @Test("ids are 22 URL-safe characters and do not repeat")
    func randomIDs() {
        let ids = (0..<1000).map { _ in RandomID.make() }
        #expect(Set(ids).count == ids.count)
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        #expect(ids.allSatisfy { $0.count == 22 && $0.allSatisfy(alphabet.contains) })
    }
}
