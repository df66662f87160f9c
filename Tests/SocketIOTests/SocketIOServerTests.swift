import ChatCore
import Synchronization
import Testing
@testable import SocketIO

@Suite("Socket.IO server")
struct SocketIOServerTests {
    let clock = ManualClock()
    let log = EventLog()

    /// Waits (briefly, in real time) for work the server runs in its own tasks.
    func eventually(_ condition: () async -> Bool) async throws {
        for _ in 0..<500 where !(await condition()) {
            try await Task.sleep(for: .milliseconds(2))
        }
        #expect(await condition())
    }

    @Test("a polling client handshakes, connects with a token and gets its socket id")
    func connect() async throws {
        let server = Fixtures.server(clock: clock, log: log)
        let open = try await server.openPollingSession(headers: [:])
        #expect(open.hasPrefix(#"0{"sid":""#))
        let sid = try JSONValue.parse(String(open.dropFirst()))["sid"]!.stringValue!
        #expect(sid.count >= 20)
        try await server.post(sid: sid, body: #"40{"token":"alice"}"#)
        let reply = try await server.poll(sid: sid)
        let connect = try SocketIOPacket.decode(String(reply.dropFirst()))
        #expect(connect.type == .connect)
        let socket = SocketID(rawValue: connect.data!["sid"]!.stringValue!)
        #expect(socket.rawValue != sid)
        #expect(await server.user(of: socket) == Fixtures.alice)
        #expect(log.all == ["online usr_alice001"])
    }

    @Test("the handshake's Authorization header authenticates a CONNECT without auth")
    func headerAuthentication() async throws {
        let server = Fixtures.server(clock: clock)
        let sid = await server.openTestSession(headers: ["authorization": "bob"])
        try await server.post(sid: sid, body: "40")
        #expect(try await server.poll(sid: sid).hasPrefix(#"40{"sid":"#))
    }

    @Test("a failed authentication answers CONNECT_ERROR Authentication failed")
    func authenticationFailure() async throws {
        let server = Fixtures.server(clock: clock, log: log)
        let (sid, reply) = try await server.connectTestSocket(token: "mallory")
        #expect(reply == #"44{"message":"Authentication failed"}"#)
        #expect(await server.socketCount == 0)
        #expect(await server.sessionState(sid: sid) == .polling)
        #expect(log.all.isEmpty)
    }

    @Test("an unknown sid is refused with Session ID unknown")
    func unknownSession() async {
        let server = Fixtures.server(clock: clock)
        await #expect(throws: EngineIORequestError.unknownSessionID) { try await server.poll(sid: "nope") }
        await #expect(throws: EngineIORequestError.unknownSessionID) { try await server.post(sid: "nope", body: "40") }
        await #expect(throws: EngineIORequestError.unknownSessionID) {
            try await server.attachWebSocket(sid: "nope", headers: [:], writer: RecordingWebSocket())
        }
    }

    @Test("a CONNECT to another namespace is refused")
    func otherNamespace() async throws {
        let server = Fixtures.server(clock: clock)
        let sid = await server.openTestSession()
        try await server.post(sid: sid, body: "40/admin,")
        #expect(try await server.poll(sid: sid) == #"44/admin,{"message":"Invalid namespace"}"#)
    }

    @Test("a user goes online with the first socket and offline with the last")
    func onlineOffline() async throws {
        let server = Fixtures.server(clock: clock, log: log)
        let (first, _) = try await server.connectTestSocket(token: "alice")
        let (second, _) = try await server.connectTestSocket(token: "alice")
        #expect(await server.sockets(of: Fixtures.alice.id).count == 2)
        try await server.post(sid: first, body: "41")
        #expect(log.all == ["online usr_alice001"])
        try await server.post(sid: second, body: "1")
        #expect(log.all == ["online usr_alice001", "offline usr_alice001"])
        #expect(await server.sessionCount == 1)
    }

    @Test("emits reach a socket, all of a user's sockets, or a room without the sender")
    func emitTargets() async throws {
        let server = Fixtures.server(clock: clock)
        let (aliceTab1, reply1) = try await server.connectTestSocket(token: "alice")
        let (aliceTab2, _) = try await server.connectTestSocket(token: "alice")
        let (bob, _) = try await server.connectTestSocket(token: "bob")
        let sender = SocketID(rawValue: try SocketIOPacket.decode(String(reply1.dropFirst())).data!["sid"]!.stringValue!)
        let bobSocket = await server.sockets(of: Fixtures.bob.id).first!
        await server.join(sender, room: "dialog:1")
        await server.join(bobSocket, room: "dialog:1")

        await server.emit("chat3:update", [["id": 1]], to: .user(Fixtures.alice.id))
        await server.emit("typing:update", ["x"], to: .room("dialog:1", excluding: sender))
        await server.emit("direct", [], to: .socket(bobSocket))

        #expect(try await server.poll(sid: aliceTab1) == #"42["chat3:update",{"id":1}]"#)
        #expect(try await server.poll(sid: aliceTab2) == #"42["chat3:update",{"id":1}]"#)
        #expect(try await server.poll(sid: bob) == "42[\"typing:update\",\"x\"]\u{1e}42[\"direct\"]")
    }

    @Test("a client event reaches the handler and the handler's reply goes back as the ACK")
    func clientEventWithAck() async throws {
        let received = Mutex<[SocketIOEvent]>([])
        let server = Fixtures.server(clock: clock) { event in
            received.withLock { $0.append(event) }
            return [["ok": true]]
        }
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        try await server.post(sid: sid, body: #"421["dialog:join","d1"]"# + "\u{1e}" + #"42["typing:start",{"dialogId":"d1"}]"#)
        #expect(try await server.poll(sid: sid) == #"431[{"ok":true}]"#)
        try await eventually { received.withLock { $0.count } == 2 }
        let events = received.withLock { $0 }.sorted { $0.name < $1.name }
        #expect(events.map(\.name) == ["dialog:join", "typing:start"])
        #expect(events[0].arguments == ["d1"] && events[0].wantsAck && events[0].user == Fixtures.alice)
        #expect(!events[1].wantsAck)
    }

    @Test("an emit with ack resolves on the client's ACK and fails after its timeout")
    func serverAck() async throws {
        let server = Fixtures.server(clock: clock)
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        let socket = await server.sockets(of: Fixtures.alice.id).first!

        let answered = Task { try await server.emitWithAck("question", [1], to: socket, timeout: .seconds(5)) }
        let frame = try await server.poll(sid: sid)
        let packet = try SocketIOPacket.decode(String(frame.dropFirst()))
        #expect(packet.data == ["question", 1])
        try await server.post(sid: sid, body: "43\(packet.ackID!)[\"answer\"]")
        #expect(try await answered.value == ["answer"])

        let ignored = Task { try await server.emitWithAck("question", [], to: socket, timeout: .seconds(5)) }
        _ = try await server.poll(sid: sid)
        clock.advance(by: .seconds(5))
        await server.sweep()
        await #expect(throws: SocketIOAckError.timeout) { try await ignored.value }
        await #expect(throws: SocketIOAckError.unknownSocket) {
            try await server.emitWithAck("x", [], to: SocketID(rawValue: "gone"), timeout: .seconds(1))
        }
    }

    @Test("a missed pong closes the session and the user goes offline")
    func pingTimeout() async throws {
        let server = Fixtures.server(clock: clock, log: log)
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        clock.advance(by: .seconds(25))
        await server.sweep()
        #expect(try await server.poll(sid: sid) == "2")
        clock.advance(by: .seconds(20))
        await server.sweep()
        #expect(log.all == ["online usr_alice001", "offline usr_alice001"])
        await #expect(throws: EngineIORequestError.unknownSessionID) { try await server.poll(sid: sid) }
    }

    @Test("a pending GET is answered by the ping")
    func pendingPollGetsPing() async throws {
        let server = Fixtures.server(clock: clock)
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        let pending = Task { try await server.poll(sid: sid) }
        try await eventually { await server.sessions[sid]?.engine.isPollPending == true }
        clock.advance(by: .seconds(25))
        await server.sweep()
        #expect(try await pending.value == "2")
        try await server.post(sid: sid, body: "3")
        clock.advance(by: .seconds(20))
        await server.sweep()
        #expect(await server.sessionState(sid: sid) == .polling)
    }

    @Test("polling upgrades to WebSocket: probe, noop for the pending GET, upgrade, events on the WebSocket")
    func upgrade() async throws {
        let server = Fixtures.server(clock: clock)
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        let pending = Task { try await server.poll(sid: sid) }
        try await eventually { await server.sessions[sid]?.engine.isPollPending == true }
        let webSocket = RecordingWebSocket()
        let connection = try await server.attachWebSocket(sid: sid, headers: [:], writer: webSocket)
        await server.receive("2probe", on: connection)
        #expect(webSocket.take() == ["3probe"])
        #expect(try await pending.value == "6")
        await server.receive("5", on: connection)
        await server.emit("hello", [], to: .user(Fixtures.alice.id))
        #expect(webSocket.take() == [#"42["hello"]"#])
        await #expect(throws: EngineIORequestError.badRequest) { try await server.poll(sid: sid) }
        await server.webSocketClosed(connection)
        #expect(await server.sessionCount == 0)
    }

    @Test("a WebSocket-only client gets the open packet and connects over frames")
    func webSocketOnly() async throws {
        let server = Fixtures.server(clock: clock, log: log)
        let webSocket = RecordingWebSocket()
        let connection = try await server.attachWebSocket(sid: nil, headers: [:], writer: webSocket)
        let open = webSocket.take()
        #expect(open.count == 1 && open[0].contains(#""upgrades":[]"#))
        await server.receive(#"40{"token":"bob"}"#, on: connection)
        #expect(webSocket.take().first?.hasPrefix(#"40{"sid":"#) == true)
        await server.receive("4" + String(repeating: "x", count: 1_000_001), on: connection)
        #expect(webSocket.isClosed)
        #expect(log.all == ["online usr_bob00002", "offline usr_bob00002"])
    }

    @Test("an oversized POST closes the session with an error")
    func oversizePost() async throws {
        let server = Fixtures.server(clock: clock)
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        await #expect(throws: EngineIORequestError.payloadTooLarge) {
            try await server.post(sid: sid, body: "4" + String(repeating: "x", count: 1_000_000))
        }
        #expect(await server.socketCount == 0)
        await #expect(throws: EngineIORequestError.unknownSessionID) { try await server.poll(sid: sid) }
    }

    @Test("a binary event before CONNECT closes the connection, like any event before CONNECT")
    func binaryBeforeConnect() async throws {
        let server = Fixtures.server(clock: clock)
        let sid = await server.openTestSession()
        try await server.post(sid: sid, body: #"451-["upload",{"_placeholder":true,"num":0}]"# + "\u{1e}bAQID")
        #expect(try await server.poll(sid: sid) == "1")
    }

    @Test("an event before CONNECT closes the connection")
    func eventBeforeConnect() async throws {
        let server = Fixtures.server(clock: clock)
        let sid = await server.openTestSession()
        try await server.post(sid: sid, body: #"42["hello"]"#)
        #expect(try await server.poll(sid: sid) == "1")
        await #expect(throws: EngineIORequestError.unknownSessionID) { try await server.poll(sid: sid) }
    }

    @Test("a server-side disconnect sends DISCONNECT, then closes the connection")
    func serverDisconnect() async throws {
        let server = Fixtures.server(clock: clock, log: log)
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        await server.disconnect(user: Fixtures.alice.id)
        #expect(log.all == ["online usr_alice001", "offline usr_alice001"])
        #expect(try await server.poll(sid: sid) == "41\u{1e}1")
    }

    @Test("messages that arrive while the authenticator runs are handled after it, in order")
    func bufferedWhileAuthenticating() async throws {
        let gate = AsyncStream.makeStream(of: Void.self)
        let entered = AsyncStream.makeStream(of: Void.self)
        let received = Mutex<[String]>([])
        let handlers = SocketIOServerHandlers(
            authenticate: { auth, headers in
                entered.continuation.yield()
                for await _ in gate.stream { break }
                return await Fixtures.authenticate(auth, headers)
            },
            event: { event in
                received.withLock { $0.append(event.name) }
                return nil
            })
        let server = SocketIOServer(handlers: handlers, clock: { clock.now })
        let webSocket = RecordingWebSocket()
        let connection = try await server.attachWebSocket(sid: nil, headers: [:], writer: webSocket)
        let connecting = Task { await server.receive(#"40{"token":"alice"}"#, on: connection) }
        for await _ in entered.stream { break }
        await server.receive(#"42["early"]"#, on: connection)
        #expect(received.withLock { $0 }.isEmpty)
        gate.continuation.yield()
        await connecting.value
        try await eventually { received.withLock { $0 } == ["early"] }
        #expect(webSocket.frames.last?.hasPrefix(#"40{"sid":"#) == true)
    }

    @Test("the CONNECT answer waits for beforeConnected; events emitted meanwhile follow it, in order")
    func connectWaitsForBeforeConnected() async throws {
        let gate = AsyncStream.makeStream(of: Void.self)
        let entered = AsyncStream.makeStream(of: Void.self)
        let handlers = SocketIOServerHandlers(
            authenticate: Fixtures.authenticate,
            userOnline: { log.append("online \($0.id)") },
            beforeConnected: { _ in
                entered.continuation.yield()
                for await _ in gate.stream { break }
            })
        let server = SocketIOServer(handlers: handlers, clock: { clock.now })
        let webSocket = RecordingWebSocket()
        let connection = try await server.attachWebSocket(sid: nil, headers: [:], writer: webSocket)
        let connecting = Task { await server.receive(#"40{"token":"alice"}"#, on: connection) }
        for await _ in entered.stream { break }
        // The user is online (so the application can subscribe) but the client has no answer yet.
        #expect(log.all == ["online usr_alice001"])
        await server.emit("update", [1], to: .user(Fixtures.alice.id))
        await server.emit("update", [2], to: .user(Fixtures.alice.id))
        #expect(webSocket.frames.filter { $0.hasPrefix("4") }.isEmpty, "\(webSocket.frames)")
        gate.continuation.yield()
        await connecting.value
        let packets = webSocket.frames.filter { $0.hasPrefix("4") }
        #expect(packets.count == 3, "\(packets)")
        #expect(packets.first?.hasPrefix(#"40{"sid":"#) == true)
        #expect(Array(packets.dropFirst()) == [#"42["update",1]"#, #"42["update",2]"#])
        // Once connected, emits go straight out.
        await server.emit("update", [3], to: .user(Fixtures.alice.id))
        #expect(webSocket.frames.last == #"42["update",3]"#)
    }
}
