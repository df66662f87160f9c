import ChatCore
import Foundation
import Testing

/// The Socket.IO protocol as the official socket.io-protocol suite checks it, restated in our own
/// words against the conformance server's /socket.io/ (the project's SocketIOServer).
@Suite("Socket.IO conformance (SocketIOServer)", .serialized)
struct SocketIOConformanceTests {
    /// A WebSocket connected to the main namespace, past the CONNECT answer and the `auth` echo.
    func connected(_ server: ConformanceFixture, auth: String = "") async throws -> WireSocket {
        let socket = WireSocket(server.webSocket("/socket.io"))
        _ = try await socket.nextText()
        try await socket.send("40" + auth)
        #expect(try await socket.nextText().hasPrefix("40"))
        #expect(try await socket.nextText() == "42[\"auth\",\(auth.isEmpty ? "{}" : auth)]")
        return socket
    }

    @Test("CONNECT to the main namespace answers with a socket id, then an auth event echoing the payload")
    func connectEchoesAuth() async throws {
        try await ConformanceFixture.with { server in
            let socket = WireSocket(server.webSocket("/socket.io"))
            _ = try await socket.nextText()
            try await socket.send(#"40{"token":"123"}"#)
            let answer = try await socket.nextText()
            #expect(answer.hasPrefix("40"))
            let handshake = try JSONValue.parse(String(answer.dropFirst(2)))
            #expect(handshake.objectValue.map { Array($0.keys) } == ["sid"])
            #expect(try await socket.nextText() == #"42["auth",{"token":"123"}]"#)
            await socket.close()
            // Without a payload the echo is an empty object.
            try await connected(server).close()
        }
    }

    @Test("CONNECT to an unknown namespace is answered with CONNECT_ERROR Invalid namespace")
    func unknownNamespace() async throws {
        try await ConformanceFixture.with { server in
            let socket = WireSocket(server.webSocket("/socket.io"))
            _ = try await socket.nextText()
            try await socket.send("40/random")
            #expect(try await socket.nextText() == #"44/random,{"message":"Invalid namespace"}"#)
            await socket.close()
        }
    }

    @Test("a message event comes back as message-back with the same arguments, over WebSocket and polling")
    func messageEcho() async throws {
        try await ConformanceFixture.with { server in
            let socket = try await connected(server)
            try await socket.send(#"42["message",1,"2",{"3":[true]}]"#)
            #expect(try await socket.nextText() == #"42["message-back",1,"2",{"3":[true]}]"#)
            await socket.close()

            let sid = try await server.openPolling("/socket.io")
            let url = server.socketIO("EIO=4&transport=polling&sid=\(sid)")
            #expect(try await server.post(url, "40").text == "ok")
            // CONNECT's answer then the auth echo, in one payload or two.
            var received = try await server.get(url).text
            if !received.contains("\u{1e}") { received += "\u{1e}" + (try await server.get(url).text) }
            let packets = received.split(separator: "\u{1e}")
            #expect(packets.count == 2)
            #expect(packets.first?.hasPrefix("40{\"sid\":") == true)
            #expect(packets.last == "42[\"auth\",{}]")
            #expect(try await server.post(url, #"42["message","over polling"]"#).text == "ok")
            #expect(try await server.get(url).text == #"42["message-back","over polling"]"#)
        }
    }

    @Test("an event with an ack id is acknowledged with its arguments under the same id")
    func ackEcho() async throws {
        try await ConformanceFixture.with { server in
            let socket = try await connected(server)
            try await socket.send(#"42456["message-with-ack",1,"2",{"3":[false]}]"#)
            #expect(try await socket.nextText() == #"43456[1,"2",{"3":[false]}]"#)
            await socket.close()
        }
    }

    @Test("the server's own emit with ack: the client's answer is emitted back")
    func serverAck() async throws {
        try await ConformanceFixture.with { server in
            let socket = try await connected(server)
            try await socket.send(#"42["emit-with-ack","ask"]"#)
            let request = try await socket.nextText()
            #expect(request.hasPrefix("42") && request.hasSuffix(#"["emit-with-ack","ask"]"#))
            let id = request.dropFirst(2).prefix { $0.isNumber }
            #expect(!id.isEmpty)
            try await socket.send("43\(id)[\"answer\"]")
            #expect(try await socket.nextText() == #"42["emit-with-ack","answer"]"#)
            await socket.close()
        }
    }

    @Test("DISCONNECT leaves the session open (the next frame is a ping); malformed packets close it")
    func disconnectAndMalformed() async throws {
        try await ConformanceFixture.with(ConformanceFixture.lenient) { server in
            let socket = try await connected(server)
            try await socket.send("41")
            #expect(try await socket.nextText(skippingPings: false) == "2")
            await socket.close()

            for bad in ["4abc", "42{}", #"42abc["message-with-ack",1]"#] {
                let socket = try await connected(server)
                try await socket.send(bad)
                try await socket.waitClosed()
            }
        }
        try await ConformanceFixture.with(ConformanceFixture.suite) { server in
            // No CONNECT at all: the heartbeat closes the session.
            let silent = WireSocket(server.webSocket("/socket.io"), answerPings: false)
            _ = try await silent.nextText()
            try await silent.waitClosed()
        }
    }
}
