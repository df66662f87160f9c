import ChatCore
import Foundation
import Testing

/// The socket.io-protocol suite's custom-namespace and binary-attachment cases, in our own words,
/// plus the refusals the suite does not check: what a client can make the server hold is bounded.
extension SocketIOConformanceTests {
    static let placeholders = #"{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}"#

    @Test("CONNECT to /custom answers in /custom with a socket id, then the auth echo there, with or without a payload")
    func customNamespace() async throws {
        try await ConformanceFixture.with { server in
            for (sent, echoed) in [("40/custom,", "{}"), (#"40/custom,{"token":"abc"}"#, #"{"token":"abc"}"#)] {
                let socket = WireSocket(server.webSocket("/socket.io"))
                _ = try await socket.nextText()
                try await socket.send(sent)
                let answer = try await socket.nextText()
                #expect(answer.hasPrefix("40/custom,"))
                let handshake = try JSONValue.parse(String(answer.dropFirst("40/custom,".count)))
                #expect(handshake.objectValue.map { Array($0.keys) } == ["sid"])
                #expect(try await socket.nextText() == #"42/custom,["auth",\#(echoed)]"#)
                await socket.close()
            }
        }
    }

    @Test("after connecting /custom on a session connected to /, DISCONNECT from /custom leaves / working")
    func customNamespaceDisconnect() async throws {
        try await ConformanceFixture.with { server in
            let socket = try await connected(server)
            try await socket.send("40/custom")
            #expect(try await socket.nextText().hasPrefix("40/custom,"))
            #expect(try await socket.nextText() == #"42/custom,["auth",{}]"#)
            try await socket.send(#"42/custom,["message","in custom"]"#)
            #expect(try await socket.nextText() == #"42/custom,["message-back","in custom"]"#)
            try await socket.send("41/custom")
            try await socket.send(#"42["message","message to main namespace"]"#)
            #expect(try await socket.nextText() == #"42["message-back","message to main namespace"]"#)
            await socket.close()
        }
    }

    @Test("over WebSocket a binary event comes back as a binary message-back, and a binary ack as BINARY_ACK, attachments as binary frames")
    func binaryOverWebSocket() async throws {
        try await ConformanceFixture.with { server in
            let socket = try await connected(server)
            try await socket.send(#"452-["message",\#(Self.placeholders)]"#)
            try await socket.send(binary: [1, 2, 3])
            try await socket.send(binary: [4, 5, 6])
            #expect(try await socket.nextText() == #"452-["message-back",\#(Self.placeholders)]"#)
            #expect(try await socket.next() == .binary([1, 2, 3]))
            #expect(try await socket.next() == .binary([4, 5, 6]))

            try await socket.send(#"452-789["message-with-ack",\#(Self.placeholders)]"#)
            try await socket.send(binary: [1, 2, 3])
            try await socket.send(binary: [4, 5, 6])
            #expect(try await socket.nextText() == #"462-789[\#(Self.placeholders)]"#)
            #expect(try await socket.next() == .binary([1, 2, 3]))
            #expect(try await socket.next() == .binary([4, 5, 6]))
            await socket.close()
        }
    }

    /// Polls until `count` packets came: a binary packet's parts can be split over poll answers.
    func packets(_ server: ConformanceFixture, _ url: String, count: Int) async throws -> [String] {
        var packets: [String] = []
        while packets.count < count {
            packets += try await server.get(url).text.split(separator: "\u{1e}").map(String.init)
        }
        return packets
    }

    @Test("over polling the same binary event and ack travel as base64 messages, in order, in the same payloads")
    func binaryOverPolling() async throws {
        try await ConformanceFixture.with { server in
            let sid = try await server.openPolling("/socket.io")
            let url = server.socketIO("EIO=4&transport=polling&sid=\(sid)")
            #expect(try await server.post(url, "40").text == "ok")
            #expect(try await packets(server, url, count: 2).last == #"42["auth",{}]"#)
            let event = [#"452-["message",\#(Self.placeholders)]"#, "bAQID", "bBAUG"].joined(separator: "\u{1e}")
            #expect(try await server.post(url, event).text == "ok")
            #expect(try await packets(server, url, count: 3)
                == [#"452-["message-back",\#(Self.placeholders)]"#, "bAQID", "bBAUG"])
            // The attachments may come in a later POST than their header.
            #expect(try await server.post(url, #"452-789["message-with-ack",\#(Self.placeholders)]"#).text == "ok")
            #expect(try await server.post(url, "bAQID\u{1e}bBAUG").text == "ok")
            #expect(try await packets(server, url, count: 3) == [#"462-789[\#(Self.placeholders)]"#, "bAQID", "bBAUG"])
        }
    }

    @Test("a binary event over maxPayload with its attachments is refused with payload_too_large, its attachments dropped, and the socket stays")
    func oversizedAttachments() async throws {
        try await ConformanceFixture.with { server in
            let socket = try await connected(server)
            let big = [UInt8](repeating: 7, count: 600_000)
            try await socket.send(#"452-5["message-with-ack",\#(Self.placeholders)]"#)
            try await socket.send(binary: big)
            try await socket.send(binary: big)
            #expect(try await socket.nextText()
                == #"435[{"code":"payload_too_large","message":"Event over 1000000 bytes","ok":false}]"#)
            try await socket.send(#"42["message","still here"]"#)
            #expect(try await socket.nextText() == #"42["message-back","still here"]"#)
            await socket.close()
        }
    }

    @Test("malformed attachment sequences are refused and cost nothing else: mismatched placeholders, a sequence cut short, a stray binary frame")
    func malformedAttachments() async throws {
        try await ConformanceFixture.with { server in
            let socket = try await connected(server)
            let invalid = #"[{"code":"bad_request","message":"Invalid binary attachments","ok":false}]"#
            // Two announced, one named: refused, both binary frames dropped.
            try await socket.send(#"452-1["message-with-ack",{"_placeholder":true,"num":0}]"#)
            try await socket.send(binary: [1])
            try await socket.send(binary: [2])
            #expect(try await socket.nextText() == "431" + invalid)
            // A text packet before the second attachment: the incomplete event is refused, the text handled.
            try await socket.send(#"452-2["message-with-ack",\#(Self.placeholders)]"#)
            try await socket.send(binary: [1])
            try await socket.send(#"42["message","after"]"#)
            #expect(try await socket.nextText() == "432" + invalid)
            #expect(try await socket.nextText() == #"42["message-back","after"]"#)
            // A binary frame nothing announced is dropped.
            try await socket.send(binary: [9, 9])
            try await socket.send(#"42["message","still here"]"#)
            #expect(try await socket.nextText() == #"42["message-back","still here"]"#)
            await socket.close()
        }
    }
}
