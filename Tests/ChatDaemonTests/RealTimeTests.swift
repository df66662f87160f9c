import ChatConfig
import ChatCore
import ChatDaemon
import ChatStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SocketIO
import Synchronization
import Testing
import TestSupport

/// Membership as a test decides it: members by dialog, or a failing upstream.
final class MembershipDouble: DialogMembershipChecking {
    struct Down: Error {}
    let members: Mutex<[String: Set<UserID>]>
    let failing: Bool
    let asked = Atomic(0)

    init(_ members: [String: Set<UserID>] = [:], failing: Bool = false) {
        self.members = Mutex(members)
        self.failing = failing
    }

    func isMember(_ userId: UserID, ofDialog dialogId: DialogRoomID) async throws -> Bool {
        asked.add(1, ordering: .relaxed)
        if failing { throw Down() }
        return members.withLock { $0[dialogId.rawValue]?.contains(userId) ?? false }
    }

    func add(_ userId: UserID, to dialog: String) { members.withLock { _ = $0[dialog, default: []].insert(userId) } }
}

extension MembershipDouble: CoMemberFinding {
    /// Everyone in a dialog with `userId`, from the same table.
    func coMembers(of userId: UserID) async throws -> Set<UserID> {
        if failing { throw Down() }
        return members.withLock { dialogs in
            dialogs.values.filter { $0.contains(userId) }.reduce(into: Set<UserID>()) { $0.formUnion($1) }
        }.subtracting([userId])
    }
}

/// chatd's composition (store, tokens, hub, router, WebSocket upgrade) in this process, on a live port,
/// with an injected membership check and optionally short heartbeats.
struct RealTimeHarness {
    static let dialog = "dlg_" + String(repeating: "a", count: 20)
    static let deniedDialog = "dlg_" + String(repeating: "b", count: 20)

    let directory: TemporaryDirectory
    let services: DaemonServices
    var hub: RealTimeHub { services.realTime }

    init(membership: any DialogMembershipChecking, coMembers: (any CoMemberFinding)? = nil,
         server: SocketIOServer.Configuration = .init(), typingInterval: Duration = .seconds(1),
         extraEnvironment: [String: String] = [:]) async throws {
        directory = try TemporaryDirectory("realtime")
        var environment = [
            "CHATD_STORE": "sqlite://\(directory.path("users.sqlite"))",
            "CHATD_STATE_DIR": directory.url.path,
            "CHATD_CONFIG": "/dev/null",
            "JWT_SECRET": String(repeating: "r", count: 40),
            "SMS_SENDER": "command",
            "SMS_COMMAND": "true",
        ]
        environment.merge(extraEnvironment) { $1 }
        let config = try ConfigLoader(environment: environment).load()
        services = try await Daemon.prepare(
            config: config, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            realTime: RealTimeOverrides(membership: membership,
                                        coMembers: coMembers ?? (membership as? any CoMemberFinding) ?? NoCoMembers(),
                                        server: server, typingInterval: typingInterval))
    }

    /// A user in the store and a token for them.
    func user(_ name: String, phone: String) async throws -> (user: User, token: String) {
        let user = User(userId: UserID.generate(), phone: try Phone(normalizing: phone),
                        name: try UserName(validating: name), createdAt: Date())
        try await services.store.createUser(user)
        return (user, try await services.tokens.mint(for: user))
    }

    /// Runs the daemon's app (router + WebSocket upgrade) and the hub's service around `body`; with
    /// `connections`, every connection passes its guard, so the test can count what is open.
    func live(connections: ConnectionTracker? = nil,
              _ body: @escaping @Sendable (_ port: Int) async throws -> Void) async throws {
        let app = Application(router: Daemon.buildRouter(services),
                              server: RealTimeWebSocket.serverBuilder(hub: hub, connections: connections))
        let hubService = Task { try await hub.run() }
        defer { hubService.cancel() }
        try await app.test(.live) { client in try await body(client.port!) }
    }

    func router(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await Application(router: Daemon.buildRouter(services)).test(.router) { try await body($0) }
    }

    func cleanUp() async {
        await services.store.close()
        directory.remove()
    }
}

/// The python clients under tools/testclients, run with the repository's venv.
enum PythonClient {
    static var root: URL { RepositoryRoot.find()! }
    static var python: String { root.appendingPathComponent(".venv/bin/python3").path }
    static func script(_ name: String) -> String { root.appendingPathComponent("tools/testclients/\(name)").path }

    /// Starts a client whose output the test follows line by line.
    static func start(_ name: String, _ arguments: [String], log: URL) throws -> ServiceProcess {
        try ServiceProcess(python, ["-u", script(name)] + arguments, environment: [:], logURL: log)
    }

    /// Waits for a client's exit and returns its log; fails the test unless it ends with SCENARIO OK.
    static func finish(_ process: ServiceProcess, timeoutSeconds: Double = 60,
                       sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        _ = try? await process.waitForLine("(SCENARIO OK|FAIL .*)", timeoutSeconds: timeoutSeconds)
        let status = await process.stop(signal: SIGTERM, graceSeconds: 5)
        let log = process.log
        #expect(log.contains("SCENARIO OK"), "\(log)", sourceLocation: sourceLocation)
        #expect(status == 0 || log.contains("SCENARIO OK"), "exit \(status)", sourceLocation: sourceLocation)
        return log
    }
}

@Suite("Real-time endpoint in-process", .serialized)
struct RealTimeTests {
    enum Mode: String, CaseIterable, Sendable { case `default`, websocket, polling }

    @Test("python-socketio connects, is refused with a bad token, joins, relays typing, acks both ways, disconnects and reconnects",
          arguments: Mode.allCases)
    func fullScenario(mode: Mode) async throws {
        // python-engineio's polling disconnect can skip its `close` packet when its writer thread is slow
        // to run; a short ping cycle lets the server reap such a session within the test's wait.
        let reaping = SocketIOServer.Configuration(
            engine: EngineIOConfiguration(pingInterval: .seconds(2), pingTimeout: .seconds(3)),
            sweepInterval: .milliseconds(100))
        let membership = MembershipDouble()
        let h = try await RealTimeHarness(membership: membership, server: reaping)
        defer { Task { await h.cleanUp() } }
        let (ann, annToken) = try await h.user("Ann", phone: "79000000001")
        let (bob, bobToken) = try await h.user("Bob", phone: "79000000002")
        membership.add(ann.userId, to: RealTimeHarness.dialog)
        membership.add(bob.userId, to: RealTimeHarness.dialog)
        try await h.live { port in
            let client = try PythonClient.start("sio_scenario.py", [
                "full", "--url", "http://127.0.0.1:\(port)", "--mode", mode.rawValue,
                "--token-a", annToken, "--token-b", bobToken, "--user-a", ann.userId.rawValue,
                "--user-b", bob.userId.rawValue, "--name-a", "Ann", "--name-b", "Bob",
                "--dialog", RealTimeHarness.dialog, "--denied-dialog", RealTimeHarness.deniedDialog, "--server-ack",
            ], log: h.directory.url.appendingPathComponent("client.log"))
            // Server to client, with the client's ack.
            _ = try await client.waitForLine("WAITING server:question")
            let socket = try #require(await h.hub.server.sockets(of: ann.userId).first)
            let answer = try await h.hub.server.emitWithAck("server:question", [["q": "ready?"]], to: socket,
                                                              timeout: .seconds(5))
            #expect(answer == [["answer": "ready?", "from": "A"]])
            _ = try await PythonClient.finish(client)
            try await waitUntil(seconds: 20) { await h.hub.connectionCount() == 0 }
            #expect(await h.hub.userCount() == 0)
        }
    }

    @Test("a client that stops answering pings loses its session after pingTimeout and reconnects by itself",
          arguments: [Mode.websocket, .default])
    func missedPong(mode: Mode) async throws {
        let fast = SocketIOServer.Configuration(
            engine: EngineIOConfiguration(pingInterval: .milliseconds(300), pingTimeout: .milliseconds(300)),
            sweepInterval: .milliseconds(50))
        let membership = MembershipDouble()
        let h = try await RealTimeHarness(membership: membership, server: fast)
        defer { Task { await h.cleanUp() } }
        let (ann, annToken) = try await h.user("Ann", phone: "79000000001")
        membership.add(ann.userId, to: RealTimeHarness.dialog)
        try await h.live { port in
            let client = try PythonClient.start("sio_scenario.py", [
                "missed-pong", "--url", "http://127.0.0.1:\(port)", "--mode", mode.rawValue,
                "--token-a", annToken, "--dialog", RealTimeHarness.dialog,
            ], log: h.directory.url.appendingPathComponent("client.log"))
            let log = try await PythonClient.finish(client)
            #expect(log.contains("server closed the session"))
        }
    }

    @Test("1,000 concurrent WebSocket sockets on one server each receive an event emitted to their users")
    func thousandSockets() async throws {
        let h = try await RealTimeHarness(membership: MembershipDouble())
        defer { Task { await h.cleanUp() } }
        var users: [UserID] = []
        var tokens: [String] = []
        for index in 0..<10 {
            let (user, token) = try await h.user("Load \(index)", phone: "7900100\(String(format: "%04d", index))")
            users.append(user.userId)
            tokens.append(token)
        }
        let loadUsers = users
        let tokensFile = h.directory.url.appendingPathComponent("tokens.json")
        try Data(JSONValue.array(tokens.map(JSONValue.string)).serialized().utf8).write(to: tokensFile)
        try await h.live { port in
            let client = try PythonClient.start("sio_load.py", [
                "--port", "\(port)", "--tokens", tokensFile.path, "--count", "1000", "--event", "load:ping",
                "--timeout", "60",
            ], log: h.directory.url.appendingPathComponent("load.log"))
            _ = try await client.waitForLine("CONNECTED 1000", timeoutSeconds: 60)
            #expect(await h.hub.connectionCount() == 1000)
            #expect(await h.hub.userCount() == 10)
            var reached = 0
            for user in loadUsers { reached += await h.hub.emit(event: "load:ping", args: [1], toUser: user) }
            #expect(reached == 1000)
            _ = try await client.waitForLine("RECEIVED 1000", timeoutSeconds: 60)
            #expect(await client.stop() == 0 || client.log.contains("RECEIVED 1000"))
            try await waitUntil(seconds: 20) { await h.hub.connectionCount() == 0 }
        }
    }

    @Test("the WebSocket protocol around Engine.IO: a ping gets its pong, a fragmented CONNECT is joined, a close is echoed and TCP closed, a half-closed peer is closed at once, a message above maxPayload in fragments is refused with 1009")
    func webSocketProtocol() async throws {
        let h = try await RealTimeHarness(membership: MembershipDouble())
        defer { Task { await h.cleanUp() } }
        let (_, token) = try await h.user("Wes", phone: "79000000077")
        try await h.live { port in
            let client = try PythonClient.start("ws_protocol.py", ["--port", "\(port)", "--token", token],
                                                log: h.directory.url.appendingPathComponent("client.log"))
            let log = try await PythonClient.finish(client)
            #expect(log.contains("SCENARIO OK"), "\(log)")
            #expect(log.contains("PONG chatd"))
            #expect(log.contains("CONNECTED"))
            #expect(log.contains("CLOSE 4001"))
            #expect(log.contains("EOF"))
            #expect(log.contains("TOOLARGE 1009"))
            // FIN without a close frame: the server closes the connection right away, not at a timeout.
            let halfClose = log.split(separator: "\n").first { $0.hasPrefix("HALFCLOSE ") }
                .flatMap { Double($0.dropFirst("HALFCLOSE ".count)) }
            #expect(try #require(halfClose) < 2, "\(log)")
            try await waitUntil(seconds: 10) { await h.hub.connectionCount() == 0 }
        }
    }

    @Test("only /socket.io/ WebSocket requests upgrade; a refused upgrade gets a 400 and plain requests still reach the router")
    func upgradeRouting() async throws {
        let h = try await RealTimeHarness(membership: MembershipDouble())
        defer { Task { await h.cleanUp() } }
        try await h.live { port in
            let upgrade = ["Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="]
            // Every refused upgrade gets a bare 400 and the connection closes (`RealTimeChannel`).
            let health = try await RawHTTP.get(port: port, path: "/health", headers: upgrade)
            #expect(health.hasPrefix("HTTP/1.1 400"), "\(health)")
            let plainHealth = try await RawHTTP.get(port: port, path: "/health", headers: [:])
            #expect(plainHealth.hasPrefix("HTTP/1.1 200"), "\(plainHealth)")
            let unknown = try await RawHTTP.get(
                port: port, path: "/socket.io/?EIO=4&transport=websocket&sid=nope", headers: upgrade)
            #expect(unknown.hasPrefix("HTTP/1.1 400"), "\(unknown)")
            let fresh = try await RawHTTP.get(port: port, path: "/socket.io/?EIO=4&transport=websocket", headers: upgrade)
            #expect(fresh.hasPrefix("HTTP/1.1 101"), "\(fresh)")
            // Without an upgrade, a WebSocket request gets the reference server's error from the router.
            let notUpgrading = try await RawHTTP.get(
                port: port, path: "/socket.io/?EIO=4&transport=websocket&sid=nope", headers: [:])
            #expect(notUpgrading.contains(#"{"code":1,"message":"Session ID unknown"}"#), "\(notUpgrading)")
            h.hub.drain()
            let drained = try await RawHTTP.get(port: port, path: "/socket.io/?EIO=4&transport=websocket", headers: upgrade)
            #expect(drained.hasPrefix("HTTP/1.1 400"), "\(drained)")
            let drainedPolling = try await RawHTTP.get(port: port, path: "/socket.io/?EIO=4&transport=polling", headers: [:])
            #expect(drainedPolling.hasPrefix("HTTP/1.1 503"), "\(drainedPolling)")
        }
    }

    @Test("polling answers in text/plain with CORS for configured origins and the reference's error bodies")
    func pollingHTTP() async throws {
        let h = try await RealTimeHarness(membership: MembershipDouble(),
                                          extraEnvironment: ["CORS_ORIGINS": "https://app.example"])
        defer { Task { await h.cleanUp() } }
        try await h.router { client in
            let open = try await client.execute(uri: "/socket.io/?EIO=4&transport=polling", method: .get,
                                                headers: [.origin: "https://app.example"])
            #expect(open.status == .ok)
            #expect(open.headers[.contentType] == "text/plain; charset=UTF-8")
            #expect(open.headers[.accessControlAllowOrigin] == "https://app.example")
            #expect(open.headers[.accessControlAllowCredentials] == "true")
            let text = String(buffer: open.body)
            #expect(text.hasPrefix("0{\"sid\":"))
            let sid = try #require(try JSONValue.parse(String(text.dropFirst()))["sid"]?.stringValue)
            #expect(text.contains(#""pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000"#))

            let foreign = try await client.execute(uri: "/socket.io/?EIO=4&transport=polling", method: .get,
                                                   headers: [.origin: "https://evil.example"])
            #expect(foreign.headers[.accessControlAllowOrigin] == nil)

            let unknown = try await client.execute(uri: "/socket.io/?EIO=4&transport=polling&sid=nope", method: .get)
            #expect(unknown.status == .badRequest)
            #expect(String(buffer: unknown.body) == #"{"code":1,"message":"Session ID unknown"}"#)
            let version = try await client.execute(uri: "/socket.io/?EIO=3&transport=polling", method: .get)
            #expect(String(buffer: version.body) == #"{"code":5,"message":"Unsupported protocol version"}"#)
            let handshakePost = try await client.execute(uri: "/socket.io/?EIO=4&transport=polling", method: .post)
            #expect(String(buffer: handshakePost.body) == #"{"code":2,"message":"Bad handshake method"}"#)

            // A CONNECT without a token is refused with CONNECT_ERROR on the next poll.
            let posted = try await client.execute(uri: "/socket.io/?EIO=4&transport=polling&sid=\(sid)", method: .post,
                                                  body: ByteBuffer(string: "40"))
            #expect(String(buffer: posted.body) == "ok")
            let refused = try await client.execute(uri: "/socket.io/?EIO=4&transport=polling&sid=\(sid)", method: .get)
            #expect(String(buffer: refused.body) == #"44{"message":"Authentication failed"}"#)

            // Over maxHttpBufferSize: 413, and the session is gone.
            let big = ByteBuffer(repeating: UInt8(ascii: "4"), count: 1_000_001)
            let oversize = try await client.execute(uri: "/socket.io/?EIO=4&transport=polling&sid=\(sid)", method: .post,
                                                    body: big)
            #expect(oversize.status == .contentTooLarge)
            let state = await h.hub.server.sessionState(sid: sid)
            #expect(state == nil || state == .closing, "\(String(describing: state))")

            h.hub.drain()
            let drained = try await client.execute(uri: "/socket.io/?EIO=4&transport=polling", method: .get)
            #expect(drained.status == .serviceUnavailable)
            #expect(try await client.get("/health").status == .ok)
        }
    }

    @Test("a join is refused with chat3_unavailable when membership cannot be checked, and with bad_request for a malformed id")
    func joinRefusals() async throws {
        let h = try await RealTimeHarness(membership: MembershipDouble(failing: true))
        defer { Task { await h.cleanUp() } }
        let (_, token) = try await h.user("Ann", phone: "79000000001")
        try await h.live { port in
            let client = try PythonClient.start("sio_scenario.py", [
                "basic", "--url", "http://127.0.0.1:\(port)", "--mode", "websocket", "--token-a", token,
            ], log: h.directory.url.appendingPathComponent("client.log"))
            let log = try await PythonClient.finish(client)
            #expect(log.contains(#"join answered {"code": "chat3_unavailable", "ok": false}"#), "\(log)")
        }
    }

    @Test("the membership cache remembers members for its lifetime but never refusals")
    func membershipCache() async throws {
        let upstream = MembershipDouble()
        let now = Mutex(ContinuousClock.now)
        let cache = CachedDialogMembership(upstream, lifetime: .seconds(30), clock: { now.withLock { $0 } })
        let user = UserID.generate()
        let dialog = try #require(DialogRoomID(rawValue: RealTimeHarness.dialog))
        #expect(try await cache.isMember(user, ofDialog: dialog) == false)
        #expect(try await cache.isMember(user, ofDialog: dialog) == false)
        #expect(upstream.asked.load(ordering: .relaxed) == 2)
        upstream.add(user, to: dialog.rawValue)
        #expect(try await cache.isMember(user, ofDialog: dialog))
        #expect(try await cache.isMember(user, ofDialog: dialog))
        #expect(upstream.asked.load(ordering: .relaxed) == 3)
        now.withLock { $0 += .seconds(31) }
        #expect(try await cache.isMember(user, ofDialog: dialog))
        #expect(upstream.asked.load(ordering: .relaxed) == 4)
    }

    @Test("dialog ids are Chat3's dlg_ and 20 characters of a-z0-9, nothing else")
    func dialogIDs() {
        #expect(DialogRoomID(rawValue: "dlg_" + String(repeating: "0", count: 20))?.room == "dialog:dlg_00000000000000000000")
        for bad in ["", "dlg_", "dlg_" + String(repeating: "A", count: 20), "dlg_" + String(repeating: "a", count: 21),
                    "../dlg_aaaaaaaaaaaaaaaaaaaa", "dlg_aaaaaaaaaaaaaaaaaa/x"] {
            #expect(DialogRoomID(rawValue: bad) == nil, "\(bad)")
        }
    }
}

/// Polls `condition` until it holds or the time is up (then records a failure).
func waitUntil(seconds: Double = 10, sourceLocation: SourceLocation = #_sourceLocation,
               _ condition: @Sendable () async -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("condition not met within \(seconds) s", sourceLocation: sourceLocation)
}

/// One raw HTTP/1.1 request over a socket, for requests URLSession will not send (WebSocket upgrades).
enum RawHTTP {
    static func get(port: Int, path: String, headers: [String: String]) async throws -> String {
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
            + headers.map { "\($0.key): \($0.value)\r\n" }.joined() + "\r\n"
        return try await Task.detached {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            _ = request.withCString { send(fd, $0, strlen($0), 0) }
            var buffer = [UInt8](repeating: 0, count: 4096)
            var received: [UInt8] = []
            // Enough for the status line and headers, plus a short body.
            while !String(decoding: received, as: UTF8.self).contains("\r\n\r\n") || received.count < 64 {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count <= 0 { break }
                received += buffer[0..<count]
                if String(decoding: received, as: UTF8.self).hasPrefix("HTTP/1.1 101") { break }
                if String(decoding: received, as: UTF8.self).contains("}") { break }
            }
            return String(decoding: received, as: UTF8.self)
        }.value
    }
}

/// Presence told to nobody, for tests about something else.
struct NoCoMembers: CoMemberFinding {
    func coMembers(of userId: UserID) async throws -> Set<UserID> { [] }
}
