import Testing
@testable import SocketIO

@Suite("Engine.IO session state machine")
struct EngineIOSessionTests {
    let start = ContinuousClock.now
    let configuration = EngineIOConfiguration()

    func pollingSession() -> EngineIOSession {
        EngineIOSession(sid: "sid", transport: .polling, configuration: configuration, now: start)
    }

    @Test("a GET with nothing queued waits, and the next packet answers it")
    func pollWaitsForPackets() {
        var session = pollingSession()
        #expect(session.poll(now: start) == EngineIOTransition())
        #expect(session.isPollPending)
        #expect(session.send("42[\"a\"]") == [.respondToPoll("42[\"a\"]")])
        #expect(!session.isPollPending)
    }

    @Test("a GET drains every queued packet as one payload")
    func pollDrainsQueue() {
        var session = pollingSession()
        _ = session.send("4a")
        _ = session.send("4b")
        #expect(session.poll(now: start).effects == [.respondToPoll("4a\u{1e}4b")])
        #expect(session.poll(now: start).effects == [])
    }

    @Test("a POST delivers messages and answers pings with pongs carrying the same data")
    func postDelivers() {
        var session = pollingSession()
        let transition = session.post("4hello\u{1e}2abc\u{1e}bAQID", now: start)
        #expect(transition.rejection == nil)
        #expect(transition.effects == [.deliver(.text("hello")), .deliver(.binary([1, 2, 3]))])
        #expect(session.poll(now: start).effects == [.respondToPoll("3abc")])
    }

    @Test("the server pings every pingInterval and a late pong closes the session")
    func pingTimeout() {
        var session = pollingSession()
        #expect(session.tick(now: start + .seconds(24)) == [])
        #expect(session.nextDeadline == start + .seconds(25))
        _ = session.poll(now: start)
        #expect(session.tick(now: start + .seconds(25)) == [.respondToPoll("2")])
        #expect(session.tick(now: start + .seconds(44)) == [])
        _ = session.poll(now: start + .seconds(44))
        #expect(session.tick(now: start + .seconds(45)) == [.respondToPoll("1"), .closed(.pingTimeout)])
        #expect(session.state == .closed(.pingTimeout))
    }

    @Test("the pong is due pingTimeout after the ping was due, however late the sweep sent it")
    func pongDeadlineFollowsSchedule() {
        var session = pollingSession()
        // Sent 1 s late: the pong is still due at 25 s + 20 s, not 26 s + 20 s.
        _ = session.tick(now: start + .seconds(26))
        #expect(session.nextDeadline == start + .seconds(45))
        // Sent later than a whole timeout: a full timeout from now, not an instant close.
        var late = pollingSession()
        _ = late.tick(now: start + .seconds(50))
        #expect(late.nextDeadline == start + .seconds(70))
        #expect(!late.isClosed)
    }

    @Test("a pong in time schedules the next ping")
    func pongKeepsAlive() {
        var session = pollingSession()
        _ = session.tick(now: start + .seconds(25))
        _ = session.post("3", now: start + .seconds(26))
        session.postFinished()
        #expect(session.tick(now: start + .seconds(46)) == [])
        #expect(session.nextDeadline == start + .seconds(51))
        #expect(session.state == .polling)
    }

    @Test("a pong without an outstanding ping is ignored: it moves no deadline and cannot save a session that ignores its ping")
    func unsolicitedPong() {
        var session = pollingSession()
        _ = session.post("3", now: start + .seconds(1))
        session.postFinished()
        #expect(session.nextDeadline == start + .seconds(25))
        _ = session.tick(now: start + .seconds(25))
        _ = session.post("3", now: start + .seconds(26))
        session.postFinished()
        #expect(session.nextDeadline == start + .seconds(51))
        _ = session.post("3\u{1e}3", now: start + .seconds(30))
        session.postFinished()
        #expect(session.nextDeadline == start + .seconds(51))
        _ = session.tick(now: start + .seconds(51))
        // The ping at 51 goes unanswered; pongs sent before it do not count.
        #expect(session.tick(now: start + .seconds(71)) == [.closed(.pingTimeout)])
    }

    @Test("a second concurrent GET closes the session; the first GET gets a close packet")
    func overlappingPoll() {
        var session = pollingSession()
        _ = session.poll(now: start)
        let transition = session.poll(now: start)
        #expect(transition.rejection == .badRequest)
        #expect(transition.effects == [.respondToPoll("1"), .closed(.overlappingPoll)])
        #expect(session.poll(now: start).rejection == .unknownSessionID)
    }

    @Test("a POST while another is in flight closes the session")
    func overlappingPost() {
        var session = pollingSession()
        _ = session.post("4a", now: start)
        let transition = session.post("4b", now: start)
        #expect(transition.rejection == .badRequest)
        #expect(transition.effects == [.closed(.overlappingPost)])
    }

    @Test("a body over maxHttpBufferSize closes the session with an error")
    func oversizePost() {
        var session = pollingSession()
        let transition = session.post("4" + String(repeating: "x", count: 1_000_000), now: start)
        #expect(transition.rejection == .payloadTooLarge)
        #expect(transition.effects == [.closed(.payloadTooLarge)])
    }

    @Test("an oversized WebSocket frame closes the session")
    func oversizeFrame() {
        var session = EngineIOSession(sid: "s", transport: .websocket, configuration: configuration, now: start)
        let effects = session.webSocketText("4" + String(repeating: "x", count: 1_000_000), now: start)
        #expect(effects == [.closeWebSocket, .closed(.payloadTooLarge)])
    }

    @Test("a malformed POST closes the session")
    func malformedPost() {
        var session = pollingSession()
        let transition = session.post("abc", now: start)
        #expect(transition.rejection == .badRequest)
        #expect(transition.effects == [.closed(.parseError(.invalidPacketType))])
    }

    @Test("probe, noop to the pending GET, upgrade, then the queue flushes on the WebSocket")
    func upgrade() {
        var session = pollingSession()
        _ = session.poll(now: start)
        #expect(session.attachWebSocket(now: start).rejection == nil)
        #expect(session.state == .upgrading(probed: false))
        #expect(session.webSocketText("2probe", now: start) == [.writeWebSocket("3probe"), .respondToPoll("6")])
        #expect(session.state == .upgrading(probed: true))
        // Polling is paused: packets wait for the WebSocket, GETs get noop.
        #expect(session.send("42[\"queued\"]") == [])
        #expect(session.poll(now: start).effects == [.respondToPoll("6")])
        #expect(session.webSocketText("5", now: start) == [.writeWebSocket("42[\"queued\"]")])
        #expect(session.state == .webSocket)
        #expect(session.send("4x") == [.writeWebSocket("4x")])
        // After the upgrade polling is refused but the session lives on.
        #expect(session.poll(now: start).rejection == .badRequest)
        #expect(session.state == .webSocket)
        #expect(session.webSocketText("4hello", now: start) == [.deliver(.text("hello"))])
    }

    @Test("a second WebSocket for an upgraded session is refused")
    func secondWebSocket() {
        var session = pollingSession()
        _ = session.attachWebSocket(now: start)
        _ = session.webSocketText("2probe", now: start)
        _ = session.webSocketText("5", now: start)
        #expect(session.attachWebSocket(now: start).rejection == .badRequest)
    }

    @Test("an upgrade without probe, or one that times out, falls back to polling")
    func failedUpgrade() {
        var session = pollingSession()
        _ = session.attachWebSocket(now: start)
        #expect(session.webSocketText("5", now: start) == [.closeWebSocket])
        #expect(session.state == .polling)
        _ = session.attachWebSocket(now: start)
        #expect(session.tick(now: start + .seconds(10)) == [.closeWebSocket])
        #expect(session.state == .polling)
        _ = session.attachWebSocket(now: start)
        #expect(session.webSocketClosed() == [])
        #expect(session.state == .polling)
    }

    @Test("the client's close packet ends the session; a pending GET is released with noop")
    func clientClose() {
        var session = pollingSession()
        _ = session.poll(now: start)
        #expect(session.post("1", now: start).effects == [.respondToPoll("6"), .closed(.clientRequested)])
        var webSocket = EngineIOSession(sid: "w", transport: .websocket, configuration: configuration, now: start)
        #expect(webSocket.webSocketText("1", now: start) == [.closeWebSocket, .closed(.clientRequested)])
    }

    @Test("a server close reaches a polling client on its next GET, after queued packets")
    func serverClose() {
        var session = pollingSession()
        _ = session.send("41")
        #expect(session.close(now: start) == [])
        #expect(session.state == .closing)
        #expect(session.send("42[\"late\"]") == [])
        #expect(session.poll(now: start).effects == [.respondToPoll("41\u{1e}1"), .closed(.serverRequested)])

        var unpolled = pollingSession()
        _ = unpolled.close(now: start)
        #expect(unpolled.tick(now: start + .seconds(30)) == [.closed(.serverRequested)])
    }

    @Test("a WebSocket session pings on the socket and ends when the socket closes")
    func webSocketSession() {
        var session = EngineIOSession(sid: "w", transport: .websocket, configuration: configuration, now: start)
        #expect(session.tick(now: start + .seconds(25)) == [.writeWebSocket("2")])
        #expect(session.webSocketText("3", now: start + .seconds(26)) == [])
        #expect(session.webSocketText("2", now: start) == [.writeWebSocket("3")])
        #expect(session.webSocketClosed() == [.closed(.transportClosed)])
    }

    @Test("on a WebSocket a tracked packet is received once the client answers a ping sent after it; packets written while that ping is out wait for the next")
    func webSocketReceipts() {
        var session = EngineIOSession(sid: "w", transport: .websocket, configuration: configuration, now: start)
        #expect(session.send("42a", tracking: 1) == [.writeWebSocket("42a", carrying: 1), .writeWebSocket("2")])
        #expect(session.send("42b", tracking: 2) == [.writeWebSocket("42b", carrying: 2)])
        #expect(session.send("42c", tracking: 3) == [.writeWebSocket("42c", carrying: 3)])
        #expect(session.webSocketText("3", now: start) == [.received([1]), .writeWebSocket("2")])
        #expect(session.webSocketText("3", now: start) == [.received([2, 3])])
        // Nothing is out: a pong now confirms nothing and moves nothing.
        #expect(session.webSocketText("3", now: start) == [])
        #expect(session.nextDeadline == start + .seconds(25))
    }

    @Test("a receipt's pong does not answer the heartbeat ping sent after it")
    func receiptAndHeartbeat() {
        var session = EngineIOSession(sid: "w", transport: .websocket, configuration: configuration, now: start)
        _ = session.send("42a", tracking: 1)
        #expect(session.tick(now: start + .seconds(25)) == [.writeWebSocket("2")])
        #expect(session.webSocketText("3", now: start + .seconds(26)) == [.received([1])])
        #expect(session.nextDeadline == start + .seconds(45), "the heartbeat's pong is still due")
        #expect(session.webSocketText("3", now: start + .seconds(27)) == [])
        #expect(session.nextDeadline == start + .seconds(52))
    }

    @Test("with a receipt delay one ping confirms every tracked packet of the delay: it goes with the first write after it, or when the delay runs out")
    func delayedReceipts() {
        var delayed = configuration
        delayed.receiptDelay = .seconds(2)
        var session = EngineIOSession(sid: "w", transport: .websocket, configuration: delayed, now: start)
        #expect(session.send("42a", tracking: 1, now: start) == [.writeWebSocket("42a", carrying: 1)])
        #expect(session.nextDeadline == start + .seconds(2), "the receipt is due before the heartbeat")
        #expect(session.send("42b", tracking: 2, now: start + .seconds(1)) == [.writeWebSocket("42b", carrying: 2)])
        #expect(session.tick(now: start + .milliseconds(1999)) == [])
        // The write after the delay carries the ping for all three.
        #expect(session.send("42c", tracking: 3, now: start + .seconds(2)) ==
            [.writeWebSocket("42c", carrying: 3), .writeWebSocket("2")])
        #expect(session.send("42d", tracking: 4, now: start + .seconds(3)) == [.writeWebSocket("42d", carrying: 4)])
        #expect(session.webSocketText("3", now: start + .seconds(3)) == [.received([1, 2, 3])],
                "the pong confirms what was written before its ping, and 42d has not waited its delay yet")
        #expect(session.nextDeadline == start + .seconds(5))
        // No write comes: the sweep sends the ping when the delay runs out.
        #expect(session.tick(now: start + .seconds(5)) == [.writeWebSocket("2")])
        #expect(session.nextDeadline == start + .seconds(25))
        #expect(session.webSocketText("3", now: start + .seconds(5)) == [.received([4])])
    }

    @Test("receiptBatch tracked packets waiting get a ping at once, even with the delay not run out and another receipt ping out")
    func receiptBatch() {
        var batched = configuration
        batched.receiptDelay = .seconds(60)
        batched.receiptBatch = 2
        var session = EngineIOSession(sid: "w", transport: .websocket, configuration: batched, now: start)
        #expect(session.send("42a", tracking: 1, now: start) == [.writeWebSocket("42a", carrying: 1)])
        #expect(session.send("42b", tracking: 2, now: start) == [.writeWebSocket("42b", carrying: 2), .writeWebSocket("2")])
        #expect(session.send("42c", tracking: 3, now: start) == [.writeWebSocket("42c", carrying: 3)])
        #expect(session.send("42d", tracking: 4, now: start) == [.writeWebSocket("42d", carrying: 4), .writeWebSocket("2")])
        #expect(session.webSocketText("3", now: start) == [.received([1, 2])])
        #expect(session.webSocketText("3", now: start) == [.received([3, 4])])
    }

    @Test("the heartbeat ping confirms the tracked packets waiting for a delayed receipt, and no second ping goes for them")
    func heartbeatCarriesReceipts() {
        var delayed = configuration
        delayed.receiptDelay = .seconds(60)
        var session = EngineIOSession(sid: "w", transport: .websocket, configuration: delayed, now: start)
        _ = session.send("42a", tracking: 1, now: start + .seconds(20))
        #expect(session.tick(now: start + .seconds(25)) == [.writeWebSocket("2")])
        #expect(session.webSocketText("3", now: start + .seconds(26)) == [.received([1])])
        #expect(session.nextDeadline == start + .seconds(51), "nothing waits: only the next heartbeat is due")
    }

    @Test("tracked packets a polling session queues before the upgrade are confirmed by a ping on the WebSocket")
    func receiptsAfterUpgrade() {
        var session = pollingSession()
        _ = session.send("42a", tracking: 7)
        _ = session.attachWebSocket(now: start)
        _ = session.webSocketText("2probe", now: start)
        #expect(session.webSocketText("5", now: start) == [.writeWebSocket("42a", carrying: 7), .writeWebSocket("2")])
        #expect(session.webSocketText("3", now: start) == [.received([7])])
    }
}
