import ChatCore
import Synchronization
import Testing
@testable import SocketIO

/// `SocketEventLimits.maxBytes`: an EVENT over it is refused from its header, without being parsed.
@Suite("Socket.IO event size")
struct EventSizeTests {
    let clock = ManualClock()

    /// Events the handler saw, by name.
    let seen = EventLog()

    func server(perSecond: Double = 20) -> SocketIOServer {
        Fixtures.server(clock: clock, configuration: .init(events: .init(perSecond: perSecond, maxBytes: 100))) {
            [seen] event in
            seen.append(event.name)
            return [["ok": true]]
        }
    }

    @Test("an event over maxBytes is acked payload_too_large when asked and dropped when not; the handler never sees it and the next event is handled")
    func refusedNotParsed() async throws {
        let server = server()
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        let pad = String(repeating: "x", count: 100)
        // The unacked one is not even valid JSON: it is never parsed.
        let acked = #"427["big",""# + pad + #""]"#
        let unacked = #"42["big",{"# + pad
        try await server.post(sid: sid, body: [acked, unacked, #"428["small"]"#].joined(separator: "\u{1e}"))
        // The refusal is sent on receipt, the small event's ack once its handler ran.
        var frames = try await server.poll(sid: sid)
        if !frames.contains("438") { frames += "\u{1e}" + (try await server.poll(sid: sid)) }
        let packets = frames.split(separator: "\u{1e}").map(String.init)
        #expect(packets.count == 2, "\(packets)")
        #expect(packets.first?.hasPrefix("437") == true, "\(packets)")
        let refusal = try JSONValue.parse(String(packets.first?.dropFirst(3) ?? ""))
        #expect(refusal == [["ok": false, "code": "payload_too_large", "message": "Event over 100 bytes"]])
        #expect(packets.last == #"438[{"ok":true}]"#, "\(packets)")
        #expect(seen.all == ["small"])
        #expect(await server.socketCount == 1)
    }

    @Test("a stream of oversized events costs the event rate like any other: past it limit:exceeded socket_event_rate and a disconnect")
    func oversizedFloodIsARateFlood() async throws {
        let server = server(perSecond: 2)
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        let big = #"42["big",""# + String(repeating: "x", count: 200) + #""]"#
        // The bucket holds 4 (twice the rate); the fifth goes past it.
        try await server.post(sid: sid, body: Array(repeating: big, count: 5).joined(separator: "\u{1e}"))
        let frames = try await server.poll(sid: sid)
        let packets = frames.split(separator: "\u{1e}").map(String.init)
        #expect(packets.first?.hasPrefix(#"42["limit:exceeded",{"limit":"socket_event_rate","#) == true, "\(packets)")
        #expect(packets.dropFirst().first == "41", "DISCONNECT after the notice: \(packets)")
        #expect(seen.all.isEmpty)
    }

    @Test("an oversized event before CONNECT closes the connection, as any event there does")
    func beforeConnect() async throws {
        let server = server()
        let sid = await server.openTestSession()
        try await server.post(sid: sid, body: #"42["big",""# + String(repeating: "x", count: 200) + #""]"#)
        #expect(try await server.poll(sid: sid) == "1")
    }

    @Test("the header is read without the payload: type, namespace and ack id, also of text that is not JSON after it")
    func header() {
        let main = SocketIOPacket.header(of: #"2123["typing:start",{"#)
        #expect(main?.type == .event && main?.namespace == "/" && main?.ackID == 123)
        let other = SocketIOPacket.header(of: #"2/admin,7["x"]"#)
        #expect(other?.type == .event && other?.namespace == "/admin" && other?.ackID == 7)
        #expect(SocketIOPacket.header(of: #"3["x"]"#)?.type == .ack)
        #expect(SocketIOPacket.header(of: "") == nil)
        #expect(SocketIOPacket.header(of: "x") == nil)
    }
}
