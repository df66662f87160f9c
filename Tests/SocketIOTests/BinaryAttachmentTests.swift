import ChatCore
import Synchronization
import Testing
@testable import SocketIO

/// BINARY_EVENT / BINARY_ACK: a header packet whose placeholders `{"_placeholder":true,"num":N}` name the
/// binary messages that follow it, reassembled before the handler sees the event, and sent back the
/// same way; what a client can make the server hold is bounded, and a malformed sequence is refused
/// without costing the socket anything else.
@Suite("Socket.IO binary attachments")
struct BinaryAttachmentTests {
    let clock = ManualClock()
    static let placeholder0: JSONValue = ["_placeholder": true, "num": 0]
    static let placeholder1: JSONValue = ["_placeholder": true, "num": 1]

    /// A server whose handler records every event and acks it with its own arguments and attachments.
    func server(maxEventBytes: Int = .max, received: EventRecorder) -> SocketIOServer {
        let handlers = SocketIOServerHandlers(
            authenticate: Fixtures.authenticate,
            event: { event in
                received.append(event)
                return SocketIOReply(event.arguments, attachments: event.attachments)
            })
        let configuration = SocketIOServer.Configuration(events: SocketEventLimits(maxBytes: maxEventBytes))
        return SocketIOServer(configuration: configuration, handlers: handlers, clock: { clock.now })
    }

    /// Polls until `count` packets came (a server sends a binary packet's parts one by one, so a poll
    /// answer can end between them).
    func packets(_ server: SocketIOServer, sid: String, count: Int) async throws -> [String] {
        var packets: [String] = []
        while packets.count < count {
            packets += try await server.poll(sid: sid).split(separator: "\u{1e}").map(String.init)
        }
        return packets
    }

    func eventually(_ condition: () -> Bool) async throws {
        for _ in 0..<500 where !condition() { try await Task.sleep(for: .milliseconds(2)) }
        #expect(condition())
    }

    @Test("over polling, a binary event's base64 attachments are reassembled, across POSTs, and its ack goes back as BINARY_ACK")
    func pollingEventAndAck() async throws {
        let received = EventRecorder()
        let server = server(received: received)
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        try await server.post(sid: sid, body: #"452-7["upload",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
            + "\u{1e}bAQID")
        #expect(received.all.isEmpty)
        try await server.post(sid: sid, body: "bBAUG")
        #expect(try await packets(server, sid: sid, count: 3)
            == [#"462-7[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#, "bAQID", "bBAUG"])
        let event = try #require(received.all.first)
        #expect(event.name == "upload" && event.wantsAck && event.namespace == "/")
        #expect(event.arguments == [Self.placeholder0, Self.placeholder1])
        #expect(event.attachments == [[1, 2, 3], [4, 5, 6]])
    }

    @Test("over WebSocket, binary frames are the attachments, and what the server sends back is binary frames too")
    func webSocketEventAndAck() async throws {
        let received = EventRecorder()
        let server = server(received: received)
        let webSocket = RecordingWebSocket()
        let connection = try await server.attachWebSocket(sid: nil, headers: [:], writer: webSocket)
        await server.receive(#"40{"token":"alice"}"#, on: connection)
        _ = webSocket.take()
        await server.receive(#"451-3["upload",{"_placeholder":true,"num":0}]"#, on: connection)
        await server.receive(binary: [0, 255, 7], on: connection)
        try await eventually { webSocket.frames.count >= 2 }
        let frames = webSocket.take()
        #expect(frames.first == #"461-3[{"_placeholder":true,"num":0}]"#)
        #expect(frames.dropFirst().first.map { EngineIOPacketData(webSocketFrame: $0) } == .binary([0, 255, 7]))
        #expect(received.all.first?.attachments == [[0, 255, 7]])
    }

    @Test("a server emit with attachments is a BINARY_EVENT followed by its attachments")
    func serverEmit() async throws {
        let server = server(received: EventRecorder())
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        await server.emit("file", [["data": Self.placeholder0]], attachments: [[9, 9]], to: .user(Fixtures.alice.id))
        #expect(try await packets(server, sid: sid, count: 2) == [#"451-["file",{"data":{"_placeholder":true,"num":0}}]"#, "bCQk="])
    }

    @Test("a binary event larger than the event bound with its attachments is refused with payload_too_large; its other attachments are dropped and the socket stays")
    func oversized() async throws {
        let received = EventRecorder()
        let server = server(maxEventBytes: 200, received: received)
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        let header = #"453-1["upload",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]"#
        let big = EngineIOPacket(binary: [UInt8](repeating: 1, count: 60)).encoded
        // The header (104 bytes) and one attachment fit in 200; the second does not: refused there, the
        // third dropped as it comes.
        try await server.post(sid: sid, body: [header, big, big, big].joined(separator: "\u{1e}"))
        #expect(try await server.poll(sid: sid)
            == #"431[{"code":"payload_too_large","message":"Event over 200 bytes","ok":false}]"#)
        try await server.post(sid: sid, body: #"422["after"]"#)
        let after = try await server.poll(sid: sid)
        #expect(after == "432[]") // the handler acks with the arguments after the name
        #expect(received.all.map(\.name) == ["after"])
        #expect(await server.socketCount == 1)
    }

    @Test("a binary event whose header alone is over the bound is refused unparsed, and its attachments are dropped")
    func oversizedHeader() async throws {
        let received = EventRecorder()
        let server = server(maxEventBytes: 100, received: received)
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        let header = #"451-4["upload",{"_placeholder":true,"num":0},""# + String(repeating: "x", count: 100) + #""]"#
        try await server.post(sid: sid, body: [header, "bAQID", #"42["after"]"#].joined(separator: "\u{1e}"))
        try await eventually { received.all.count == 1 }
        #expect(try await server.poll(sid: sid)
            == #"434[{"code":"payload_too_large","message":"Event over 100 bytes","ok":false}]"#)
        #expect(received.all.map(\.name) == ["after"])
    }

    @Test("placeholders that do not match the attachment count are refused with an error ack; the announced attachments are dropped and the socket stays")
    func mismatchedPlaceholders() async throws {
        let received = EventRecorder()
        let server = server(received: received)
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        // Two attachments announced, one named.
        try await server.post(sid: sid, body: [#"452-5["upload",{"_placeholder":true,"num":0}]"#, "bAQID", "bBAUG",
                                               #"42["after"]"#].joined(separator: "\u{1e}"))
        try await eventually { received.all.count == 1 }
        #expect(try await server.poll(sid: sid)
            == #"435[{"code":"bad_request","message":"Invalid binary attachments","ok":false}]"#)
        #expect(received.all.map(\.name) == ["after"])
        #expect(await server.socketCount == 1)
    }

    @Test("a packet before the last announced attachment refuses the incomplete event and is itself handled")
    func cutShort() async throws {
        let received = EventRecorder()
        let server = server(received: received)
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        try await server.post(sid: sid, body: [#"452-6["upload",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
                                               "bAQID", #"428["after"]"#].joined(separator: "\u{1e}"))
        try await eventually { received.all.count == 1 }
        #expect(try await packets(server, sid: sid, count: 2)
            == [#"436[{"code":"bad_request","message":"Invalid binary attachments","ok":false}]"#, "438[]"])
        #expect(received.all.map(\.name) == ["after"])
    }

    @Test("a binary message no binary packet announced is dropped on a connected socket, and ends a session before CONNECT")
    func strayAttachment() async throws {
        let received = EventRecorder()
        let server = server(received: received)
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        try await server.post(sid: sid, body: ["bAQID", #"429["after"]"#].joined(separator: "\u{1e}"))
        let after = try await server.poll(sid: sid)
        #expect(after == "439[]")
        #expect(received.all.map(\.attachments) == [[]])

        let fresh = await server.openTestSession()
        try await server.post(sid: fresh, body: "bAQID")
        #expect(try await server.poll(sid: fresh) == "1")
    }

    @Test("a client ACK over the event bound is dropped unparsed and counted: the emit waiting for it times out, the socket stays, a fitting ACK still resolves")
    func oversizedClientAck() async throws {
        let limits = Mutex<[String]>([])
        let handlers = SocketIOServerHandlers(authenticate: Fixtures.authenticate, event: { _ in nil },
                                              limitHit: { name in limits.withLock { $0.append(name) } })
        let server = SocketIOServer(configuration: .init(events: SocketEventLimits(maxBytes: 100)), handlers: handlers,
                                    clock: { clock.now })
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        let socket = try #require(await server.sockets(of: Fixtures.alice.id).first)
        let refused = Task { try await server.emitWithAck("question", [], to: socket, timeout: .seconds(2)) }
        let id = try #require(try SocketIOPacket.decode(String(try await server.poll(sid: sid).dropFirst())).ackID)
        try await server.post(sid: sid, body: "43\(id)[\"" + String(repeating: "x", count: 200) + "\"]")
        clock.advance(by: .seconds(2))
        await server.sweep()
        await #expect(throws: SocketIOAckError.timeout) { try await refused.value }
        #expect(limits.withLock { $0 } == [SocketIOLimit.eventSize.name])
        #expect(await server.socketCount == 1)

        let answered = Task { try await server.emitWithAck("again", [], to: socket, timeout: .seconds(5)) }
        let next = try #require(try SocketIOPacket.decode(String(try await server.poll(sid: sid).dropFirst())).ackID)
        try await server.post(sid: sid, body: "43\(next)[\"fits\"]")
        #expect(try await answered.value == SocketIOReply(["fits"]))
    }

    @Test("a client's BINARY_ACK resolves the server's emit with its attachments")
    func clientBinaryAck() async throws {
        let server = server(received: EventRecorder())
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        let socket = try #require(await server.sockets(of: Fixtures.alice.id).first)
        let answered = Task { try await server.emitWithAck("question", [], to: socket, timeout: .seconds(5)) }
        let frame = try await server.poll(sid: sid)
        let id = try #require(try SocketIOPacket.decode(String(frame.dropFirst())).ackID)
        try await server.post(sid: sid, body: "461-\(id)[{\"_placeholder\":true,\"num\":0}]\u{1e}bAQID")
        #expect(try await answered.value == SocketIOReply([Self.placeholder0], attachments: [[1, 2, 3]]))
    }
}
