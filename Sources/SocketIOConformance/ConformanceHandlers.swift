import ChatCore
import SocketIO
import Synchronization

/// The Socket.IO behaviour socket.io's protocol test suite expects (socketioxide's e2e server is the
/// public model): every CONNECT is accepted and answered with an `auth` event echoing its payload;
/// `message` comes back as `message-back`, `message-with-ack` is acknowledged with its own arguments,
/// `emit-with-ack` is emitted back with an ack request and the client's answer emitted again. Binary
/// attachments come back as they came (BINARY_EVENT, BINARY_ACK), in the main namespace and in `/custom`.
public final class ConformanceHandlers: Sendable {
    /// The namespaces the suite connects to.
    public static let namespaces: Set<String> = ["/", "/custom"]

    /// Each CONNECT is its own user; its payload waits here for `beforeConnected`.
    private let pendingAuth = Mutex<[SocketIOUserKey: JSONValue]>([:])
    private let lastUser = Atomic<Int>(0)
    /// The server the handlers answer through. Set once, right after the server is built: the server
    /// takes the handlers at init, and the handlers emit through the server.
    private let server = Mutex<SocketIOServer?>(nil)
    let ackTimeout: Duration

    public init(ackTimeout: Duration = .milliseconds(200)) {
        self.ackTimeout = ackTimeout
    }

    public func makeServer(configuration: SocketIOServer.Configuration) -> SocketIOServer {
        let server = SocketIOServer(configuration: configuration, handlers: handlers)
        self.server.withLock { $0 = server }
        return server
    }

    private var handlers: SocketIOServerHandlers {
        SocketIOServerHandlers(
            authenticate: { [self] auth, _ in
                let user = nextUser()
                pendingAuth.withLock { $0[user] = auth ?? .object([:]) }
                return .authenticated(SocketUser(id: user))
            },
            event: { [self] event in await handle(event) },
            userOffline: { [self] user in _ = pendingAuth.withLock { $0.removeValue(forKey: user.id) } },
            beforeConnected: { [self] user in
                let auth = pendingAuth.withLock { $0.removeValue(forKey: user.id) } ?? .object([:])
                // Held by the server until its CONNECT answer has gone out, so `auth` comes second.
                await server.withLock { $0 }?.emit("auth", [auth], to: .user(user.id))
            })
    }

    private func handle(_ event: SocketIOEvent) async -> SocketIOReply? {
        guard let server = server.withLock({ $0 }) else { return nil }
        switch event.name {
        case "message":
            await server.emit("message-back", event.arguments, attachments: event.attachments, to: .socket(event.socket))
            return nil
        case "message-with-ack":
            return SocketIOReply(event.arguments, attachments: event.attachments)
        case "emit-with-ack":
            guard let reply = try? await server.emitWithAck(
                "emit-with-ack", event.arguments, attachments: event.attachments, to: event.socket, timeout: ackTimeout)
            else { return nil }
            await server.emit("emit-with-ack", reply.arguments, attachments: reply.attachments, to: .socket(event.socket))
            return nil
        default:
            return nil
        }
    }

    /// A user per CONNECT: `user-` and a counter.
    private func nextUser() -> SocketIOUserKey {
        SocketIOUserKey("user-\(lastUser.add(1, ordering: .relaxed).newValue)")
    }
}
