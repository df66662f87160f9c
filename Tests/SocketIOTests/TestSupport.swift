import ChatCore
import Synchronization
@testable import SocketIO

/// SplitMix64: a tiny seeded generator, so every random test replays the same inputs.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func chance(_ percent: Int) -> Bool { int(1...100) <= percent }
    mutating func pick<T>(_ items: [T]) -> T { items[int(0...items.count - 1)] }

    /// Text with the characters that break naive codecs: quotes, escapes, controls, the record
    /// separator, multi-byte and astral characters.
    mutating func string(maxLength: Int = 12) -> String {
        let pieces: [String] = [
            "a", "z", "Q", "0", "9", " ", "\"", "\\", "/", ",", "[", "]", "{", "}", ":", "\n", "\t",
            "\u{1e}", "\u{0}", "\u{7f}", "é", "€", "中", "😀", "\u{2028}",
        ]
        return (0..<int(0...maxLength)).map { _ in pick(pieces) }.joined()
    }

    mutating func json(depth: Int = 3) -> JSONValue {
        switch int(0...(depth > 0 ? 6 : 3)) {
        case 0: return .null
        case 1: return .bool(chance(50))
        case 2: return .number(chance(50) ? Double(int(-1_000_000...1_000_000)) : Double(int(-400...400)) / 8)
        case 3: return .string(string())
        case 4, 5: return .array((0..<int(0...4)).map { _ in json(depth: depth - 1) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<int(0...4) { members[string(maxLength: 6)] = json(depth: depth - 1) }
            return .object(members)
        }
    }

    mutating func bytes(maxLength: Int) -> [UInt8] {
        (0..<int(0...maxLength)).map { _ in UInt8.random(in: 0...255, using: &self) }
    }

    /// A valid encoding, damaged: characters dropped, swapped, duplicated or inserted.
    mutating func mutate(_ text: String) -> String {
        var characters = Array(text.unicodeScalars)
        for _ in 0..<int(1...4) {
            let position = characters.isEmpty ? 0 : int(0...characters.count - 1)
            switch int(0...4) {
            case 0 where !characters.isEmpty: characters.remove(at: position)
            case 1: characters.insert(pick(Array("0123456789b/,[]{}\"\\\u{1e}-".unicodeScalars)), at: position)
            case 2 where !characters.isEmpty: characters[position] = pick(Array("x9-,\u{1e}\"".unicodeScalars))
            case 3: characters = Array(characters.prefix(position))
            default: characters += characters.prefix(int(0...characters.count))
            }
        }
        var result = String.UnicodeScalarView()
        result.append(contentsOf: characters)
        return String(result)
    }
}

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let current = Mutex(ContinuousClock.now)

    var now: ContinuousClock.Instant { current.withLock { $0 } }

    func advance(by duration: Duration) {
        current.withLock { $0 += duration }
    }
}

/// A WebSocket that records what the server writes.
final class RecordingWebSocket: EngineIOWebSocketWriter {
    private let state = Mutex<(frames: [String], closed: Bool)>(([], false))

    var frames: [String] { state.withLock { $0.frames } }
    var isClosed: Bool { state.withLock { $0.closed } }

    func write(_ text: String) { state.withLock { $0.frames.append(text) } }
    func close() { state.withLock { $0.closed = true } }

    /// Returns and forgets the frames written so far.
    func take() -> [String] {
        state.withLock { state in
            defer { state.frames = [] }
            return state.frames
        }
    }
}

/// Collects what the server reports to the application.
final class EventLog: Sendable {
    private let entries = Mutex<[String]>([])

    var all: [String] { entries.withLock { $0 } }
    func append(_ entry: String) { entries.withLock { $0.append(entry) } }
}

enum Fixtures {
    static let alice = SocketUser(id: SocketIOUserKey("usr_alice001"), name: "Alice")
    static let bob = SocketUser(id: SocketIOUserKey("usr_bob00002"), name: "Bob")

    /// Tokens name the users they authenticate; anything else is rejected.
    static func authenticate(_ auth: JSONValue?, _ headers: [String: String]) async -> AuthResult {
        switch auth?["token"]?.stringValue ?? headers["authorization"] {
        case "alice": .authenticated(alice)
        case "bob": .authenticated(bob)
        default: .rejected
        }
    }

    static func server(
        clock: ManualClock, log: EventLog = EventLog(), configuration: SocketIOServer.Configuration = .init(),
        event: @escaping @Sendable (SocketIOEvent) async -> [JSONValue]? = { _ in nil }
    ) -> SocketIOServer {
        let handlers = SocketIOServerHandlers(
            authenticate: authenticate,
            event: { await event($0).map { SocketIOReply($0) } },
            userOnline: { log.append("online \($0.id)") },
            userOffline: { log.append("offline \($0.id)") })
        return SocketIOServer(configuration: configuration, handlers: handlers, clock: { clock.now })
    }
}

extension SocketIOServer {
    /// Opens a polling session and returns its sid.
    func openTestSession(headers: [String: String] = [:]) -> String {
        let open = try! openPollingSession(headers: headers)
        let handshake = try! JSONValue.parse(String(open.dropFirst()))
        return handshake["sid"]!.stringValue!
    }

    /// Opens a polling session and connects the main namespace with `token`; returns the sid and the
    /// CONNECT answer.
    func connectTestSocket(token: String) async throws -> (sid: String, reply: String) {
        let sid = openTestSession()
        try await post(sid: sid, body: "40{\"token\":\"\(token)\"}")
        return (sid, try await poll(sid: sid))
    }
}

/// Collects the client events a handler got.
final class EventRecorder: Sendable {
    private let events = Mutex<[SocketIOEvent]>([])

    var all: [SocketIOEvent] { events.withLock { $0 } }
    func append(_ event: SocketIOEvent) { events.withLock { $0.append(event) } }
}
