import ChatCore
import Testing
@testable import SocketIO

/// Random and damaged input into every decoder: each must answer with a value or a typed error, never
/// trap; whatever decodes must re-encode to something that decodes the same.
@Suite("Decoders under random input")
struct FuzzTests {
    static let iterations = 3000

    /// Inputs: random bytes, random text, and mutations of valid encodings.
    static func inputs(seed: UInt64, valid: [String]) -> [String] {
        var random = SeededRandom(seed: seed)
        return (0..<iterations).map { index in
            switch index % 3 {
            case 0: String(decoding: random.bytes(maxLength: 64), as: UTF8.self)
            case 1: random.string(maxLength: 40)
            default: random.mutate(random.pick(valid))
            }
        }
    }

    static let validSocketIO = SocketIOCodecTests.documented.map(\.0) + [
        #"51-["baz",{"_placeholder":true,"num":0}]"#, #"0{"token":"abc"}"#, #"2/admin,99["a",{"b":[1,2.5,null]}]"#,
    ]
    static let validEngineIO = ["0", "1", "2probe", "3probe", "4hello", "5", "6", "bAQIDBA==", "42[\"a\"]"]

    @Test("the Socket.IO decoder returns a packet or a typed error for any text")
    func socketIODecoder() throws {
        var errors = 0
        for input in Self.inputs(seed: 10, valid: Self.validSocketIO) {
            do {
                let packet = try SocketIOPacket.decode(input)
                #expect(try SocketIOPacket.decode(packet.encoded) == packet, "\(input.debugDescription)")
            } catch {
                errors += 1
            }
        }
        // Most damaged input must be refused; if it all decoded the decoder would accept anything.
        #expect(errors > Self.iterations / 2)
    }

    @Test("text that does not start with a packet type digit is always refused")
    func socketIOGarbage() {
        var random = SeededRandom(seed: 11)
        for _ in 0..<Self.iterations {
            let input = random.pick(["x", "[", "{", "/", "-", "7", "8", "9", " ", "é"]) + random.string(maxLength: 30)
            #expect(throws: SocketIOProtocolError.self) { try SocketIOPacket.decode(input) }
            #expect(throws: SocketIOProtocolError.self) { try EngineIOPacket.decode(input) }
        }
    }

    @Test("the Engine.IO packet and payload decoders return packets or typed errors for any text")
    func engineIODecoders() throws {
        for input in Self.inputs(seed: 12, valid: Self.validEngineIO) {
            if let packet = try? EngineIOPacket.decode(input) {
                #expect(try EngineIOPacket.decode(packet.encoded) == packet)
            }
            if let packets = try? EngineIOPayload.decode(input) {
                #expect(try EngineIOPayload.decode(EngineIOPayload.encode(packets)) == packets)
            }
        }
    }

    @Test("a session fed random POST bodies and frames either stays consistent or closes")
    func sessionInput() {
        var random = SeededRandom(seed: 13)
        let now = ContinuousClock.now
        let inputs = Self.inputs(seed: 14, valid: Self.validEngineIO + ["4" + "2[\"a\"]\u{1e}2probe"])
        for input in inputs {
            var session = EngineIOSession(sid: "s", transport: .polling, configuration: EngineIOConfiguration(), now: now)
            let transition = session.post(input, now: now)
            session.postFinished()
            if transition.rejection != nil { #expect(session.isClosed) }
            var webSocketSession = EngineIOSession(
                sid: "w", transport: .websocket, configuration: EngineIOConfiguration(), now: now)
            let effects = webSocketSession.webSocketText(input, now: now)
            if effects.contains(where: { if case .closed = $0 { true } else { false } }) {
                #expect(webSocketSession.isClosed)
            }
            _ = webSocketSession.webSocketBinary(random.bytes(maxLength: 8), now: now)
        }
    }

    @Test("the server survives random POST bodies on a connected session")
    func serverInput() async throws {
        let clock = ManualClock()
        let server = Fixtures.server(clock: clock)
        var random = SeededRandom(seed: 15)
        let valid = Self.validSocketIO.map { "4" + $0 } + ["40{\"token\":\"alice\"}", "2", "3", "1"]
        for _ in 0..<300 {
            let (sid, _) = try await server.connectTestSocket(token: "alice")
            for _ in 0..<3 {
                let body = random.chance(50) ? random.mutate(random.pick(valid)) : random.string(maxLength: 30)
                try? await server.post(sid: sid, body: body)
            }
            await server.close(sid: sid)
        }
        await server.closeAll()
        #expect(await server.socketCount == 0)
        clock.advance(by: .seconds(31))
        await server.sweep()
        #expect(await server.sessionCount == 0)
    }
}
