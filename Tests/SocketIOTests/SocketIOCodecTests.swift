import ChatCore
import Testing
@testable import SocketIO

/// The encoding table of the Socket.IO protocol 5 documentation.
@Suite("Socket.IO codec")
struct SocketIOCodecTests {
    static let documented: [(String, SocketIOPacket)] = [
        ("0", SocketIOPacket(.connect)),
        (#"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#, SocketIOPacket(.connect, data: ["sid": "wZX3oN0bSVIhsaknAAAI"])),
        ("0/admin,", SocketIOPacket(.connect, namespace: "/admin")),
        (#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
         SocketIOPacket(.connect, namespace: "/admin", data: ["sid": "oSO0OpakMV_3jnilAAAA"])),
        (#"4{"message":"Not authorized"}"#, SocketIOPacket(.connectError, data: ["message": "Not authorized"])),
        (#"2["foo"]"#, SocketIOPacket(.event, data: ["foo"])),
        (#"2/admin,["bar"]"#, SocketIOPacket(.event, namespace: "/admin", data: ["bar"])),
        (#"212["foo"]"#, SocketIOPacket(.event, ackID: 12, data: ["foo"])),
        ("312[]", SocketIOPacket(.ack, ackID: 12, data: [])),
        (#"2/admin,13["foo"]"#, SocketIOPacket(.event, namespace: "/admin", ackID: 13, data: ["foo"])),
        (#"3/admin,13["bar"]"#, SocketIOPacket(.ack, namespace: "/admin", ackID: 13, data: ["bar"])),
        (#"314["bar"]"#, SocketIOPacket(.ack, ackID: 14, data: ["bar"])),
        (#"215["foo"]"#, SocketIOPacket(.event, ackID: 15, data: ["foo"])),
        ("1", SocketIOPacket(.disconnect)),
        ("1/admin,", SocketIOPacket(.disconnect, namespace: "/admin")),
        (#"2["hey","Jude"]"#, SocketIOPacket(.event, data: ["hey", "Jude"])),
    ]

    @Test("documented packets decode and encode", arguments: documented)
    func documentedPackets(text: String, packet: SocketIOPacket) throws {
        #expect(try SocketIOPacket.decode(text) == packet)
        #expect(packet.encoded == text)
    }

    static let placeholder0: JSONValue = ["_placeholder": true, "num": 0]
    static let placeholder1: JSONValue = ["_placeholder": true, "num": 1]

    @Test("documented binary packets decode to their header packet with the attachment count, and encode back", arguments: [
        (#"51-["baz",{"_placeholder":true,"num":0}]"#,
         SocketIOPacket(.binaryEvent, data: ["baz", placeholder0], attachments: 1)),
        (#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
         SocketIOPacket(.binaryEvent, namespace: "/admin", data: ["baz", placeholder0, placeholder1], attachments: 2)),
        (#"51-14["foo",{"_placeholder":true,"num":0}]"#,
         SocketIOPacket(.binaryEvent, ackID: 14, data: ["foo", placeholder0], attachments: 1)),
        (#"61-15["bar",{"_placeholder":true,"num":0}]"#,
         SocketIOPacket(.binaryAck, ackID: 15, data: ["bar", placeholder0], attachments: 1)),
        (#"61-/admin,1[{"_placeholder":true,"num":0}]"#,
         SocketIOPacket(.binaryAck, namespace: "/admin", ackID: 1, data: [placeholder0], attachments: 1)),
        (#"51-["nested",{"file":{"_placeholder":true,"num":0},"copy":[{"_placeholder":true,"num":0}]}]"#,
         SocketIOPacket(.binaryEvent, data: ["nested", ["file": placeholder0, "copy": [placeholder0]]], attachments: 1)),
    ])
    func binaryPackets(text: String, packet: SocketIOPacket) throws {
        let decoded = try SocketIOPacket.decode(text)
        #expect(decoded == packet)
        #expect(SocketIOPacket.header(of: text)?.attachments == packet.attachments)
        // Our encoder sorts object keys; the documented forms happen to be sorted except the nested one.
        #expect(try SocketIOPacket.decode(packet.encoded) == packet)
    }

    @Test("a binary packet whose placeholders do not match its attachment count is refused", arguments: [
        #"51-["upload"]"#, // an attachment no placeholder names
        #"51-["upload",{"_placeholder":true,"num":1}]"#, // a placeholder naming no attachment
        #"52-["upload",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]"#, // the second is unnamed
        #"51-["upload",{"_placeholder":true,"num":-1},{"_placeholder":true,"num":0}]"#,
        #"51-["upload",{"_placeholder":true,"num":0.5}]"#,
        #"51-["upload",{"_placeholder":true}]"#,
        #"5999999-["upload",{"_placeholder":true,"num":0}]"#,
    ])
    func mismatchedAttachments(text: String) {
        #expect(throws: SocketIOProtocolError.invalidAttachments) { try SocketIOPacket.decode(text) }
        #expect(SocketIOProtocolError.invalidAttachments.message == "invalid binary attachments")
    }

    @Test("a server BINARY_EVENT is its header frame and one base64 message per attachment; without attachments a plain EVENT")
    func binaryFrames() {
        let frames = SocketIOFrame.event("file", [Self.placeholder0], attachments: [[1, 2, 3]], namespace: "/custom")
        #expect(frames == [#"451-/custom,["file",{"_placeholder":true,"num":0}]"#, "bAQID"])
        #expect(SocketIOFrame.event("file", ["x"], attachments: []) == [#"42["file","x"]"#])
        let ack = SocketIOFrame.ack(7, SocketIOReply([Self.placeholder0, Self.placeholder1], attachments: [[4], []]))
        #expect(ack == [#"462-7[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#, "bBA==", "b"])
        #expect(EngineIOPacketData(webSocketFrame: "bAQID") == .binary([1, 2, 3]))
        #expect(EngineIOPacketData(webSocketFrame: #"42["x"]"#) == .text(#"42["x"]"#))
    }

    @Test("malformed packets are typed errors", arguments: [
        ("", SocketIOProtocolError.emptyPacket),
        ("7", .invalidPacketType),
        ("a", .invalidPacketType),
        (#"2["some","data""#, .invalidJSON),
        (#"2{"a":}"#, .invalidJSON),
        (#"0/admin,"invalid""#, .invalidPayload),
        ("2[]", .invalidPayload),
        (#"2{"a":1}"#, .invalidPayload),
        (#"2["connect"]"#, .invalidPayload),
        (#"2["disconnect",1]"#, .invalidPayload),
        ("2[null]", .invalidPayload),
        ("3{}", .invalidPayload),
        ("3", .invalidPayload),
        ("1{}", .invalidPayload),
        ("4", .invalidPayload),
        ("0[]", .invalidPayload),
        (#"5["a"]"#, .invalidAttachmentCount),
        (#"5-["a"]"#, .invalidAttachmentCount),
        (#"59999999-["a"]"#, .invalidAttachmentCount),
        (#"21234567890123456["a"]"#, .invalidAckID),
    ])
    func malformedPackets(text: String, error: SocketIOProtocolError) {
        #expect(throws: error) { try SocketIOPacket.decode(text) }
    }

    @Test("an event may be named by a number, as socket.io-parser allows")
    func numericEventName() throws {
        #expect(try SocketIOPacket.decode("2[1,2]").data == [1, 2])
    }

    @Test("event frames are written directly and decode back")
    func eventFrames() throws {
        #expect(SocketIOFrame.event("hey", ["Jude"]) == #"42["hey","Jude"]"#)
        #expect(SocketIOFrame.event("ping", [], ackID: 7) == #"427["ping"]"#)
        #expect(SocketIOFrame.event("a", [["k": 1]], namespace: "/admin") == #"42/admin,["a",{"k":1}]"#)
        #expect(SocketIOFrame.ack(12, []) == "4312[]")
        var random = SeededRandom(seed: 3)
        for _ in 0..<500 {
            let name = "e" + random.string()
            let arguments = (0..<random.int(0...3)).map { _ in random.json() }
            let frame = SocketIOFrame.event(name, arguments, ackID: random.chance(50) ? random.int(0...99999) : nil)
            let packet = try SocketIOPacket.decode(String(frame.dropFirst()))
            #expect(packet.data == .array([.string(name)] + arguments))
        }
    }

    @Test("random valid packets survive encode then decode")
    func roundTrip() throws {
        var random = SeededRandom(seed: 4)
        for _ in 0..<2000 {
            let packet = Self.randomPacket(&random)
            #expect(try SocketIOPacket.decode(packet.encoded) == packet, "\(packet.encoded)")
        }
    }

    static func randomPacket(_ random: inout SeededRandom) -> SocketIOPacket {
        let namespace = random.chance(50) ? "/" : "/" + random.string(maxLength: 8).replacingOccurrences(of: ",", with: "")
        let ackID = random.chance(50) ? random.int(0...999_999) : nil
        switch random.int(0...4) {
        case 0:
            let data: JSONValue? = random.chance(50) ? ["token": .string(random.string()), "n": random.json()] : nil
            return SocketIOPacket(.connect, namespace: namespace, data: data)
        case 1:
            return SocketIOPacket(.disconnect, namespace: namespace)
        case 2:
            let name = JSONValue.string("event:" + random.string())
            let arguments = (0..<random.int(0...4)).map { _ in random.json() }
            return SocketIOPacket(.event, namespace: namespace, ackID: ackID, data: .array([name] + arguments))
        case 3:
            let arguments = (0..<random.int(0...4)).map { _ in random.json() }
            return SocketIOPacket(.ack, namespace: namespace, ackID: ackID ?? 1, data: .array(arguments))
        default:
            let data: JSONValue = random.chance(50) ? .string(random.string()) : ["message": .string(random.string())]
            return SocketIOPacket(.connectError, namespace: namespace, data: data)
        }
    }
}

@Suite("JSON writer")
struct JSONWriterTests {
    @Test("strings are escaped as JSON requires")
    func escaping() {
        #expect(JSONValue.string("a\"b\\c\n\t\u{1}\u{1e}é😀").jsonText == #""a\"b\\c\n\t\u0001\u001eé😀""#)
    }

    @Test("numbers print like JavaScript and non-finite numbers become null")
    func numbers() {
        #expect(JSONValue.number(42).jsonText == "42")
        #expect(JSONValue.number(-0.5).jsonText == "-0.5")
        #expect(JSONValue.number(1e300).jsonText == "1e+300")
        #expect(JSONValue.number(.nan).jsonText == "null")
        #expect(JSONValue.number(.infinity).jsonText == "null")
    }

    @Test("objects have sorted keys, like serialized()")
    func sortedKeys() {
        let value: JSONValue = ["b": 1, "a": [true, nil, "x"], "c": ["z": 0, "y": 1]]
        #expect(value.jsonText == #"{"a":[true,null,"x"],"b":1,"c":{"y":1,"z":0}}"#)
        #expect(value.jsonText == value.serialized())
    }

    @Test("random values parse back to themselves")
    func roundTrip() throws {
        var random = SeededRandom(seed: 5)
        for _ in 0..<1000 {
            let value = random.json(depth: 4)
            #expect(try JSONValue.parse(value.jsonText) == value, "\(value.jsonText)")
        }
    }
}
