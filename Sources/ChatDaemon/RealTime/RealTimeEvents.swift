import ChatCore
import Logging
import SocketIO

/// What clients may emit (SPEC §5): `dialog:join`/`dialog:leave` with a dialog id, and
/// `typing:start`/`typing:stop` with `{dialogId}`. Replies become the client's ack when it asked for one:
/// `{ok: true}` or `{ok: false, code}` with the REST API's error codes.
struct RealTimeEvents: Sendable {
    let server: ServerSlot
    let membership: any DialogMembershipChecking
    /// Other instances' watchers of the same rooms get typing and presence through here.
    let relay: (any RoomRelaying)?
    let logger: Logger
    /// Typing relayed once per (socket, dialog) per interval; more is dropped (still acked `ok`).
    let typingRelayed: RecentKeys<String>
    /// Chat3's recent "not a member" answers, per (user, dialog): a socket asking again and again does
    /// not reach Chat3 each time.
    let refusedJoins: RecentKeys<String>
    let limitHit: @Sendable (String) -> Void

    /// How long a relayed `typing:start` shows, as the reference's `typing:update` default.
    static let typingExpiresInMs = 5000

    func handle(_ event: SocketIOEvent) async -> [JSONValue]? {
        let reply: JSONValue
        switch event.name {
        case "dialog:join": reply = await join(event)
        case "dialog:leave": reply = await leave(event)
        case "typing:start": reply = await typing(event, started: true)
        case "typing:stop": reply = await typing(event, started: false)
        default: reply = Self.refusal(.notFound("Unknown event"))
        }
        return [reply]
    }

    static func refusal(_ error: APIError) -> JSONValue {
        ["ok": false, "code": .string(error.code)]
    }

    /// The dialog id from a bare string (the reference's form) or `{dialogId}`.
    static func dialogID(_ arguments: [JSONValue]) -> DialogRoomID? {
        let text = arguments.first?.stringValue ?? arguments.first?["dialogId"]?.stringValue
        return text.flatMap(DialogRoomID.init(rawValue:))
    }

    private func join(_ event: SocketIOEvent) async -> JSONValue {
        guard let dialog = Self.dialogID(event.arguments) else {
            return Self.refusal(.badRequest("Invalid dialogId"))
        }
        let membershipKey = "\(event.user.id.rawValue) \(dialog.rawValue)"
        if refusedJoins.isRecent(membershipKey) {
            limitHit("membership_refusal_cached")
            return Self.refusal(.forbidden("Not a member"))
        }
        let allowed: Bool
        do {
            allowed = try await membership.isMember(event.user.userID, ofDialog: dialog)
        } catch {
            logger.warning("membership check failed", metadata: ["dialog.id": "\(dialog)", "error": "\(error)"])
            return Self.refusal(.chat3Unavailable)
        }
        guard allowed else {
            refusedJoins.record(membershipKey)
            return Self.refusal(.forbidden("Not a member"))
        }
        let server = server.server
        let room = dialog.room
        let watchers = await server.sockets(in: room)
        guard await server.join(event.socket, room: room) else { return Self.refusal(.notFound("Socket gone")) }
        // Presence itself goes to co-members whether or not they joined (RealTimeHub); the ack says who
        // of this instance's watchers of the room is online.
        var present: Set<String> = []
        for socket in watchers {
            if let user = await server.user(of: socket) { present.insert(user.id.rawValue) }
        }
        present.remove(event.user.id.rawValue)
        return ["ok": true, "online": .array(present.sorted().map(JSONValue.string))]
    }

    private func leave(_ event: SocketIOEvent) async -> JSONValue {
        guard let dialog = Self.dialogID(event.arguments) else {
            return Self.refusal(.badRequest("Invalid dialogId"))
        }
        let server = server.server
        await server.leave(event.socket, room: dialog.room)
        return ["ok": true]
    }

    /// Relays to the dialog's room, but only from a socket that joined it (so only members can type).
    private func typing(_ event: SocketIOEvent, started: Bool) async -> JSONValue {
        guard let dialog = Self.dialogID(event.arguments) else {
            return Self.refusal(.badRequest("Invalid dialogId"))
        }
        let server = server.server
        guard await server.rooms(of: event.socket).contains(dialog.room) else {
            return Self.refusal(.forbidden("Join the dialog first"))
        }
        guard typingRelayed.admit("\(event.socket.rawValue) \(dialog.rawValue) \(started)") else {
            limitHit("typing_relay")
            return ["ok": true]
        }
        let userId = JSONValue.string(event.user.id.rawValue)
        let dialogId = JSONValue.string(dialog.rawValue)
        let target = SocketIOTarget.room(dialog.room, excluding: event.socket)
        if started {
            var payload: [String: JSONValue] = ["userId": userId, "dialogId": dialogId]
            if let name = event.user.name { payload["userName"] = .string(name) }
            await server.emit("typing:start", [.object(payload)], to: target)
            relay?.relay("typing:start", [.object(payload)], toRoom: dialog.room)
            payload["expiresInMs"] = .number(Double(Self.typingExpiresInMs))
            await server.emit("typing:update", [.object(payload)], to: target)
            relay?.relay("typing:update", [.object(payload)], toRoom: dialog.room)
        } else {
            let stop: JSONValue = ["userId": userId, "dialogId": dialogId]
            await server.emit("typing:stop", [stop], to: target)
            relay?.relay("typing:stop", [stop], toRoom: dialog.room)
        }
        return ["ok": true]
    }
}
