import ChatCore
import Synchronization
import Testing
@testable import SocketIO

/// Namespaces: a server configured with several serves a socket in each on one Engine.IO session, as
/// Socket.IO multiplexes them; a CONNECT to any other is refused, and the default serves only `/`.
@Suite("Socket.IO namespaces")
struct NamespaceTests {
    let clock = ManualClock()
    let log = EventLog()

    func server(received: EventRecorder = EventRecorder()) -> SocketIOServer {
        let handlers = SocketIOServerHandlers(
            authenticate: Fixtures.authenticate,
            event: { event in
                received.append(event)
                return [.string(event.namespace)]
            },
            userOnline: { log.append("online \($0.id)") },
            userOffline: { log.append("offline \($0.id)") })
        let configuration = SocketIOServer.Configuration(namespaces: ["/", "/custom"])
        return SocketIOServer(configuration: configuration, handlers: handlers, clock: { clock.now })
    }

    @Test("one session connects to the main and a custom namespace: two sockets of one user, each answered in its namespace")
    func twoNamespaces() async throws {
        let received = EventRecorder()
        let server = server(received: received)
        let (sid, main) = try await server.connectTestSocket(token: "alice")
        #expect(main.hasPrefix(#"40{"sid":"#))
        try await server.post(sid: sid, body: #"40/custom,{"token":"alice"}"#)
        let custom = try await server.poll(sid: sid)
        #expect(custom.hasPrefix(#"40/custom,{"sid":"#))
        #expect(await server.sockets(of: Fixtures.alice.id).count == 2)
        #expect(log.all == ["online usr_alice001"])

        try await server.post(sid: sid, body: #"42/custom,1["hello"]"# + "\u{1e}" + #"422["hello"]"#)
        var acks = try await server.poll(sid: sid)
        if !acks.contains("\u{1e}") { acks += "\u{1e}" + (try await server.poll(sid: sid)) }
        #expect(Set(acks.split(separator: "\u{1e}")) == [#"43/custom,1["/custom"]"#, #"432["/"]"#])
        #expect(Set(received.all.map(\.namespace)) == ["/", "/custom"])

        await server.emit("news", ["x"], to: .user(Fixtures.alice.id))
        var news = try await server.poll(sid: sid)
        if !news.contains("\u{1e}") { news += "\u{1e}" + (try await server.poll(sid: sid)) }
        #expect(Set(news.split(separator: "\u{1e}")) == [#"42["news","x"]"#, #"42/custom,["news","x"]"#])
    }

    @Test("disconnecting from a custom namespace keeps the session and its main socket; the last socket's end takes the user offline")
    func disconnectCustom() async throws {
        let server = server()
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        try await server.post(sid: sid, body: #"40/custom,{"token":"alice"}"#)
        _ = try await server.poll(sid: sid)
        try await server.post(sid: sid, body: "41/custom," + "\u{1e}" + #"421["still"]"#)
        #expect(try await server.poll(sid: sid) == #"431["/"]"#)
        #expect(await server.socketCount == 1)
        #expect(log.all == ["online usr_alice001"])
        // An event to the namespace it left is a packet before CONNECT there: the connection ends.
        try await server.post(sid: sid, body: #"42/custom,["late"]"#)
        #expect(try await server.poll(sid: sid) == "1")
        #expect(log.all == ["online usr_alice001", "offline usr_alice001"])
    }

    @Test("a server-side disconnect of one namespace's socket leaves the session's other socket connected")
    func serverDisconnectOne() async throws {
        let server = server()
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        try await server.post(sid: sid, body: #"40/custom,{"token":"alice"}"#)
        let reply = try await server.poll(sid: sid)
        let custom = SocketID(rawValue: try SocketIOPacket.decode(String(reply.dropFirst())).data!["sid"]!.stringValue!)
        await server.disconnect(custom)
        #expect(try await server.poll(sid: sid) == "41/custom,")
        #expect(await server.socketCount == 1)
        #expect(await server.sessionState(sid: sid) == .polling)
    }

    @Test("a CONNECT to a namespace the server does not serve is refused, and the session's sockets stay")
    func unknownNamespace() async throws {
        let server = server()
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        try await server.post(sid: sid, body: "40/random,")
        #expect(try await server.poll(sid: sid) == #"44/random,{"message":"Invalid namespace"}"#)
        #expect(await server.socketCount == 1)
    }

    @Test("a failed authentication in a custom namespace answers CONNECT_ERROR there")
    func rejectedInCustom() async throws {
        let server = server()
        let sid = await server.openTestSession()
        try await server.post(sid: sid, body: #"40/custom,{"token":"mallory"}"#)
        #expect(try await server.poll(sid: sid) == #"44/custom,{"message":"Authentication failed"}"#)
    }
}
