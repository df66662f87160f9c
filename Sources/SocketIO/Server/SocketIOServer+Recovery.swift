import ChatCore

/// Socket.IO connection-state recovery (socket.io ≥ 4.6), for sockets that ask for it: the CONNECT
/// answer carries a private `pid`, each EVENT the socket gets carries its offset as the last argument,
/// and after a transport drop the client's next CONNECT sends `{pid, offset}`; within
/// `recoveryWindow` it gets the same socket id, its rooms and every packet after that offset, once, in
/// order. Opt-in (`"recovery": true` in the CONNECT auth, or a `pid`), because clients without it
/// (python-socketio) would see the offset as an extra argument.
///
/// The replay buffer keeps what was sent and not known to be lost: a tracked frame the transport never
/// wrote is dropped from it, since the update pipeline hands that update out again through the queue.
/// So a recovering client never gets one packet twice, from the buffer and from the queue.
struct ReplayBuffer {
    var pid: String
    var nextOffset: UInt64 = 1
    var entries: [(offset: UInt64, frame: String)] = []
    var bytes = 0
    /// The oldest offset a client may resume from (entries before it were evicted).
    var resumableFrom: UInt64 = 0

    mutating func append(_ frame: String, limit: Int) -> UInt64 {
        let offset = nextOffset
        nextOffset += 1
        entries.append((offset, frame))
        bytes += frame.utf8.count
        while bytes > limit, let first = entries.first {
            entries.removeFirst()
            bytes -= first.frame.utf8.count
            resumableFrom = first.offset
        }
        return offset
    }

    mutating func forget(_ offset: UInt64) {
        guard let index = entries.firstIndex(where: { $0.offset == offset }) else { return }
        bytes -= entries[index].frame.utf8.count
        entries.remove(at: index)
    }

    /// The frames after `offset`, or nil when the buffer cannot tell what came after it.
    func frames(after offset: UInt64) -> [String]? {
        guard offset >= resumableFrom, offset < nextOffset else { return nil }
        return entries.filter { $0.offset > offset }.map(\.frame)
    }
}

/// A socket whose transport dropped, kept for `recoveryWindow`.
struct PersistedSocket {
    var socket: SocketID
    var user: SocketUser
    var namespace: String
    var rooms: Set<String>
    var replay: ReplayBuffer
    var expires: ContinuousClock.Instant
}

extension SocketIOServer {
    /// Whether a CONNECT's auth asks for recovery.
    static func wantsRecovery(_ auth: JSONValue?) -> Bool {
        auth?["recovery"] == .bool(true) || auth?["pid"]?.stringValue != nil
    }

    /// The persisted socket a CONNECT may resume, taken out of the store; nil when the pid is unknown,
    /// expired, another user's or namespace's, or the offset is not in its buffer.
    func takeRecoverable(_ auth: JSONValue?, user: SocketUser, namespace: String) -> (PersistedSocket, missed: [String])? {
        guard let pid = auth?["pid"]?.stringValue, let saved = persisted[pid], saved.user.id == user.id,
              saved.namespace == namespace,
              saved.expires > clock(), registry.sockets[saved.socket] == nil
        else { return nil }
        let offset = auth?["offset"]?.stringValue.flatMap { UInt64($0) } ?? 0
        guard let missed = saved.replay.frames(after: offset) else { return nil }
        persisted[pid] = nil
        return (saved, missed)
    }

    /// Keeps a dropped socket for recovery; called before its rooms are forgotten.
    func persistForRecovery(_ socket: SocketID, reason: EngineIOCloseReason) {
        guard let window = configuration.recoveryWindow, let replay = replays.removeValue(forKey: socket),
              let entry = registry.sockets[socket]
        else { return }
        switch reason {
        case .pingTimeout, .transportClosed, .pollConnectionClosed: break
        default: return // a deliberate close, or a client that cannot keep up
        }
        persisted[replay.pid] = PersistedSocket(socket: socket, user: entry.user, namespace: entry.namespace,
                                                rooms: entry.rooms, replay: replay, expires: clock() + window)
        evictPersisted()
    }

    /// Drops expired sessions, then the oldest while all replay buffers exceed `replayTotalBytes`.
    func evictPersisted() {
        let now = clock()
        persisted = persisted.filter { $0.value.expires > now }
        var total = persisted.values.reduce(0) { $0 + $1.replay.bytes } + replays.values.reduce(0) { $0 + $1.bytes }
        while total > configuration.replayTotalBytes,
              let oldest = persisted.min(by: { $0.value.expires < $1.value.expires }) {
            persisted[oldest.key] = nil
            total -= oldest.value.replay.bytes
        }
    }

    /// The frame for one socket: with its offset appended and kept for replay when it has recovery.
    func recoverableFrame(_ event: String, _ arguments: [JSONValue], shared: String, for socket: SocketID)
        -> (frame: String, offset: UInt64?)
    {
        guard replays[socket] != nil else { return (shared, nil) }
        let offset = replays[socket]!.nextOffset
        let frame = SocketIOFrame.event(event, arguments + [.string(String(offset))], namespace: namespace(of: socket))
        _ = replays[socket]!.append(frame, limit: configuration.replayLimitBytes)
        return (frame, offset)
    }

    /// A tracked frame the transport never wrote leaves the replay buffer (the queue hands it out again).
    func forgetReplayed(_ offsets: [UInt64], of socket: SocketID) {
        for offset in offsets {
            replays[socket]?.forget(offset)
            for (pid, saved) in persisted where saved.socket == socket { persisted[pid]?.replay.forget(offset) }
        }
    }
}
