import ChatCore
import Synchronization

extension SocketIOServer {
    /// Emits an event to a socket, a user's sockets or a room. The frame is encoded once for all
    /// recipients (once per namespace).
    public func emit(_ event: String, _ arguments: [JSONValue] = [], to target: SocketIOTarget) {
        let sockets = registry.resolve(target)
        guard !sockets.isEmpty else { return }
        var frames = SharedFrames(event, arguments)
        for socket in sockets {
            let shared = frames.frame(in: namespace(of: socket))
            sendFrame(recoverableFrame(event, arguments, shared: shared, for: socket).frame, to: socket)
        }
    }

    /// Emits an event with binary attachments (BINARY_EVENT; `arguments` refer to them by placeholders
    /// `{"_placeholder":true,"num":N}`). Not kept for connection-state recovery.
    public func emit(_ event: String, _ arguments: [JSONValue], attachments: [[UInt8]], to target: SocketIOTarget) {
        guard !attachments.isEmpty else { return emit(event, arguments, to: target) }
        var framesByNamespace: [String: [String]] = [:]
        for socket in registry.resolve(target) {
            let namespace = namespace(of: socket)
            if framesByNamespace[namespace] == nil {
                framesByNamespace[namespace] = SocketIOFrame.event(
                    event, arguments, attachments: attachments, namespace: namespace)
            }
            for frame in framesByNamespace[namespace]! { sendFrame(frame, to: socket) }
        }
    }

    /// Emits events, in order, to a socket, a user's sockets or a room, and reports once whether every
    /// socket reached got them: `whenWritten(true)` when each has them (a polling client asked again after
    /// the answer carrying them; a WebSocket client answered a ping sent after them, or, with recovery,
    /// the writer took them), `whenWritten(false)` when one socket's session ended first. Returns how
    /// many sockets it reached; with none, `whenWritten` is never called.
    public func emit(
        _ events: [(event: String, arguments: [JSONValue])], to target: SocketIOTarget,
        whenWritten: @escaping FrameWritten
    ) -> Int {
        emit(events, to: target, skipping: []) { outcome in whenWritten(outcome.allWrote) }.reached
    }

    /// `emit(_:to:whenWritten:)` that leaves out the sockets in `skipping` (they have the events
    /// already) and reports which sockets got them. `alreadyHad` counts the target's sockets skipped.
    public func emit(
        _ events: [(event: String, arguments: [JSONValue])], to target: SocketIOTarget, skipping: Set<SocketID>,
        whenDone: @escaping @Sendable (EmitOutcome) -> Void
    ) -> (reached: Int, alreadyHad: Int) {
        let all = registry.resolve(target)
        let sockets = skipping.isEmpty ? all : all.filter { !skipping.contains($0) }
        let alreadyHad = all.count - sockets.count
        guard !sockets.isEmpty, !events.isEmpty else { return (0, alreadyHad) }
        var shared = events.map { SharedFrames($0.event, $0.arguments) }
        let receipt = WriteReceipt(sockets: sockets.count, whenDone)
        for socket in sockets {
            let namespace = namespace(of: socket)
            // Frames of a session leave in order, so the last one's outcome stands for all.
            var offsets: [UInt64] = []
            for (index, event) in events.enumerated() {
                let (frame, offset) = recoverableFrame(
                    event.event, event.arguments, shared: shared[index].frame(in: namespace), for: socket)
                if let offset { offsets.append(offset) }
                if index < events.count - 1 {
                    sendFrame(frame, to: socket)
                } else if offsets.isEmpty {
                    sendFrame(frame, to: socket, whenWritten: { receipt.settle(socket, $0) })
                } else {
                    sendFrame(frame, to: socket, whenWritten: { [offsets] written in
                        if !written { Task { await self.forgetReplayed(offsets, of: socket) } }
                        receipt.settle(socket, written)
                    })
                }
            }
        }
        return (sockets.count, alreadyHad)
    }

    /// Emits an event (with binary attachments, if any) to one socket and waits for the client's
    /// acknowledgement, which may carry attachments of its own (BINARY_ACK).
    public func emitWithAck(
        _ event: String, _ arguments: [JSONValue] = [], attachments: [[UInt8]] = [], to socket: SocketID,
        timeout: Duration
    ) async throws(SocketIOAckError) -> SocketIOReply {
        guard registry.sockets[socket] != nil else { throw .unknownSocket }
        let deadline = clock() + timeout
        let namespace = namespace(of: socket)
        let result = await withCheckedContinuation { continuation in
            let id = acks.register(socket: socket, deadline: deadline, continuation: continuation)
            for frame in SocketIOFrame.event(event, arguments, attachments: attachments, ackID: id, namespace: namespace) {
                sendFrame(frame, to: socket)
            }
        }
        return try result.get()
    }

    /// The namespace a socket connected to.
    func namespace(of socket: SocketID) -> String {
        registry.sockets[socket]?.namespace ?? SocketIOPacket.mainNamespace
    }

    /// Sends an already-encoded Engine.IO frame (see `SocketIOFrame`) to one socket; `whenWritten`
    /// learns whether it reached the transport (see `emit(_:to:whenWritten:)`).
    public func sendFrame(_ frame: String, to socket: SocketID, whenWritten: FrameWritten? = nil) {
        guard let sid = registry.sockets[socket]?.sessionID, sessions[sid] != nil,
              sessions[sid]!.engine.acceptsPackets
        else {
            whenWritten?(false)
            return
        }
        var tag: UInt64 = 0
        if let whenWritten {
            tag = makeToken()
            sessions[sid]!.tracked[tag] = whenWritten
        }
        if sessions[sid]!.heldFrames != nil {
            sessions[sid]!.heldFrames!.append((frame, tag))
            return
        }
        perform(sessions[sid]!.engine.send(frame, tracking: tag, now: tag == 0 ? nil : clock()), sid: sid)
    }

    @discardableResult
    public func join(_ socket: SocketID, room: String) -> Bool {
        registry.join(socket, room: room)
    }

    public func leave(_ socket: SocketID, room: String) {
        registry.leave(socket, room: room)
    }

    /// Disconnects a socket from the server side: the client gets DISCONNECT (and does not reconnect),
    /// then its connection closes unless it has sockets in other namespaces.
    public func disconnect(_ socket: SocketID) {
        guard let entry = registry.sockets[socket] else { return }
        let sid = entry.sessionID
        send(SocketIOPacket(.disconnect, namespace: entry.namespace), sid: sid)
        sessions[sid]?.sockets[entry.namespace] = nil
        socketGone(socket)
        if sessions[sid]?.sockets.isEmpty == true { close(sid: sid) }
    }

    /// Disconnects every socket of a user, e.g. when the user is disabled.
    public func disconnect(user: SocketIOUserKey) {
        for socket in registry.sockets(of: user) { disconnect(socket) }
    }
}

/// One event's frame, encoded once per namespace it goes to.
struct SharedFrames {
    let event: String
    let arguments: [JSONValue]
    private var main: String?
    private var others: [String: String] = [:]

    init(_ event: String, _ arguments: [JSONValue]) {
        self.event = event
        self.arguments = arguments
    }

    mutating func frame(in namespace: String) -> String {
        if namespace == SocketIOPacket.mainNamespace {
            if main == nil { main = SocketIOFrame.event(event, arguments) }
            return main!
        }
        if others[namespace] == nil { others[namespace] = SocketIOFrame.event(event, arguments, namespace: namespace) }
        return others[namespace]!
    }
}

/// What one tracked emit came to: the sockets that have its events, and whether every socket reached does.
public struct EmitOutcome: Sendable, Hashable {
    public var wrote: Set<SocketID>
    public var allWrote: Bool
}

/// Collects the write outcomes of one emit's sockets and reports once, when each has settled.
final class WriteReceipt: Sendable {
    private let state: Mutex<(remaining: Int, outcome: EmitOutcome)>
    private let done: @Sendable (EmitOutcome) -> Void

    init(sockets: Int, _ done: @escaping @Sendable (EmitOutcome) -> Void) {
        state = Mutex((sockets, EmitOutcome(wrote: [], allWrote: true)))
        self.done = done
    }

    func settle(_ socket: SocketID, _ written: Bool) {
        let outcome: EmitOutcome? = state.withLock { state in
            guard state.remaining > 0 else { return nil }
            state.remaining -= 1
            if written { state.outcome.wrote.insert(socket) } else { state.outcome.allWrote = false }
            return state.remaining == 0 ? state.outcome : nil
        }
        if let outcome { done(outcome) }
    }
}
