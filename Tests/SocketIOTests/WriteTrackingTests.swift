import ChatCore
import Synchronization
import Testing
@testable import SocketIO

/// Outcomes reported by tracked emits, in the order they came.
final class Outcomes: Sendable {
    private let values = Mutex<[Bool]>([])
    var all: [Bool] { values.withLock { $0 } }
    func record(_ written: Bool) { values.withLock { $0.append(written) } }
}

@Suite("Tracked emits: written or not")
struct WriteTrackingTests {
    let clock = ManualClock()

    @Test("on polling an emit counts as written only once the client's next GET shows it handled the answer")
    func pollingConfirmedByNextGet() async throws {
        let server = Fixtures.server(clock: clock)
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        let outcomes = Outcomes()
        let reached = await server.emit([("chat3:update", [1]), ("message:new", [2])], to: .user(Fixtures.alice.id),
                                        whenWritten: outcomes.record)
        #expect(reached == 1)
        #expect(try await server.poll(sid: sid) == "42[\"chat3:update\",1]\u{1e}42[\"message:new\",2]")
        #expect(outcomes.all.isEmpty, "answered, but not known to have arrived")
        let next = Task { try await server.poll(sid: sid) }
        for _ in 0..<500 where outcomes.all.isEmpty { try await Task.sleep(for: .milliseconds(2)) }
        #expect(outcomes.all == [true])
        await server.close(sid: sid)
        _ = try await next.value
    }

    @Test("a polling session that dies with an answer unconfirmed and packets queued reports each emit unwritten")
    func pollingDeathFails() async throws {
        let server = Fixtures.server(clock: clock)
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        let outcomes = Outcomes()
        _ = await server.emit([("a", [])], to: .user(Fixtures.alice.id), whenWritten: outcomes.record)
        _ = try await server.poll(sid: sid)
        _ = await server.emit([("b", [])], to: .user(Fixtures.alice.id), whenWritten: outcomes.record)
        clock.advance(by: .seconds(25))
        await server.sweep()
        clock.advance(by: .seconds(20))
        await server.sweep()
        #expect(outcomes.all == [false, false])
        #expect(await server.emit([("c", [])], to: .user(Fixtures.alice.id), whenWritten: outcomes.record) == 0)
    }

    @Test("an emit to two tabs is written only when both wrote it, and unwritten when one dies first")
    func everySocketMustWrite() async throws {
        let server = Fixtures.server(clock: clock)
        let (tab1, _) = try await server.connectTestSocket(token: "alice")
        let webSocket = RecordingWebSocket()
        let connection = try await server.attachWebSocket(sid: nil, headers: [:], writer: webSocket)
        await server.receive("40{\"token\":\"alice\"}", on: connection)
        let outcomes = Outcomes()
        #expect(await server.emit([("x", [])], to: .user(Fixtures.alice.id), whenWritten: outcomes.record) == 2)
        // The recording WebSocket reports its frames written at once; the polling tab has not polled.
        #expect(outcomes.all.isEmpty)
        // The polling tab never answers the ping; the WebSocket tab does.
        clock.advance(by: .seconds(25))
        await server.sweep()
        await server.receive("3", on: connection)
        clock.advance(by: .seconds(20))
        await server.sweep()
        #expect(await server.sessionState(sid: tab1) == nil)
        #expect(outcomes.all == [false])
    }

    @Test("on a WebSocket an emit counts as written only once the client answers the ping that follows it; a close before that reports it unwritten")
    func webSocketConfirmedByPong() async throws {
        let server = Fixtures.server(clock: clock)
        let webSocket = RecordingWebSocket()
        let connection = try await server.attachWebSocket(sid: nil, headers: [:], writer: webSocket)
        await server.receive("40{\"token\":\"alice\"}", on: connection)
        _ = webSocket.take()
        let outcomes = Outcomes()
        #expect(await server.emit([("a", [])], to: .user(Fixtures.alice.id), whenWritten: outcomes.record) == 1)
        #expect(webSocket.take() == ["42[\"a\"]", "2"])
        #expect(outcomes.all.isEmpty, "written to the socket, but not known to have arrived")
        await server.receive("3", on: connection)
        #expect(outcomes.all == [true])
        _ = await server.emit([("b", [])], to: .user(Fixtures.alice.id), whenWritten: outcomes.record)
        await server.webSocketClosed(connection)
        #expect(outcomes.all == [true, false])
    }

    @Test("a redelivery skips the sockets that have the update, reports who has it, and reaches nobody when all have it")
    func redeliverySkipsHolders() async throws {
        let server = Fixtures.server(clock: clock)
        let (pollingSid, _) = try await server.connectTestSocket(token: "alice")
        let webSocket = RecordingWebSocket()
        let connection = try await server.attachWebSocket(sid: nil, headers: [:], writer: webSocket)
        await server.receive("40{\"token\":\"alice\"}", on: connection)
        _ = webSocket.take()
        var polling: SocketID?
        var other: SocketID?
        for socket in await server.sockets(of: Fixtures.alice.id) {
            if await server.registry.sockets[socket]?.sessionID == pollingSid { polling = socket } else { other = socket }
        }
        let pollingSocket = try #require(polling), webSocketSocket = try #require(other)
        let outcome = Mutex<EmitOutcome?>(nil)
        let reach = await server.emit([("x", [])], to: .user(Fixtures.alice.id), skipping: [pollingSocket]) { done in
            outcome.withLock { $0 = done }
        }
        #expect(reach == (1, 1))
        #expect(webSocket.take() == ["42[\"x\"]", "2"])
        await server.receive("3", on: connection)
        #expect(outcome.withLock { $0 } == EmitOutcome(wrote: [webSocketSocket], allWrote: true))
        let none = await server.emit([("y", [])], to: .user(Fixtures.alice.id),
                                     skipping: [pollingSocket, webSocketSocket]) { _ in Issue.record("nobody was reached") }
        #expect(none == (0, 2))
        #expect(webSocket.take().isEmpty)
    }

    @Test("a polling outbox past maxBufferedBytes ends the session with outboxOverflow and fails what it held")
    func pollingOverflow() async throws {
        let reasons = Mutex<[EngineIOCloseReason]>([])
        let handlers = SocketIOServerHandlers(
            authenticate: Fixtures.authenticate,
            sessionClosed: { reason in reasons.withLock { $0.append(reason) } })
        let server = SocketIOServer(
            configuration: .init(engine: EngineIOConfiguration(maxBufferedBytes: 10_000)), handlers: handlers,
            clock: { clock.now })
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        let outcomes = Outcomes()
        let big = JSONValue.string(String(repeating: "x", count: 3_000))
        for _ in 0..<4 { _ = await server.emit([("big", [big])], to: .user(Fixtures.alice.id), whenWritten: outcomes.record) }
        #expect(outcomes.all == [false, false, false, false])
        #expect(reasons.withLock { $0 } == [.outboxOverflow])
        #expect(await server.sessionState(sid: sid) == nil)
    }

    @Test("the held GET's connection closing ends the session at once")
    func pollConnectionClosed() async throws {
        let log = EventLog()
        let server = Fixtures.server(clock: clock, log: log)
        let (sid, _) = try await server.connectTestSocket(token: "alice")
        let closer = Mutex<(@Sendable () -> Void)?>(nil)
        let held = Task {
            try await server.poll(sid: sid, onConnectionClose: { action in closer.withLock { $0 = action } })
        }
        for _ in 0..<500 where await server.sessions[sid]?.engine.isPollPending != true {
            try await Task.sleep(for: .milliseconds(2))
        }
        closer.withLock { $0 }?()
        _ = try await held.value
        for _ in 0..<500 where log.all.count < 2 { try await Task.sleep(for: .milliseconds(2)) }
        #expect(log.all == ["online usr_alice001", "offline usr_alice001"])
        #expect(await server.sessionState(sid: sid) == nil)
    }

    @Test("the WebSocket outbox cuts a consumer that falls behind its byte limit and reports its frames unwritten")
    func webSocketOutboxOverflow() async {
        let overflowed = Mutex(0)
        let outbox = EngineIOWebSocketOutbox(limitBytes: 100, onOverflow: { overflowed.withLock { $0 += 1 } })
        let outcomes = Outcomes()
        outbox.write(String(repeating: "a", count: 60), whenWritten: outcomes.record)
        let first = await outbox.nextBatch()
        #expect(first?.count == 1)
        first?.first?.written?(true)
        outbox.write(String(repeating: "b", count: 60), whenWritten: outcomes.record)
        outbox.write(String(repeating: "c", count: 60), whenWritten: outcomes.record)
        #expect(outbox.overflowed)
        #expect(overflowed.withLock { $0 } == 1)
        outbox.write("late", whenWritten: outcomes.record)
        #expect(outcomes.all == [true, false, false, false])
        #expect(await outbox.nextBatch() == nil)
    }
}
