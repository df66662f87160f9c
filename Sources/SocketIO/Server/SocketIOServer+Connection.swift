import ChatCore

extension SocketIOServer {
    static let authenticationFailed: JSONValue = ["message": "Authentication failed"]
    static let invalidNamespace: JSONValue = ["message": "Invalid namespace"]

    func handleMessages(_ messages: [EngineIOPacketData], sid: String) async {
        for message in messages {
            await handleMessage(message, sid: sid)
        }
    }

    /// One Engine.IO message: a Socket.IO packet, or an attachment of the BINARY_EVENT/BINARY_ACK
    /// before it.
    func handleMessage(_ message: EngineIOPacketData, sid: String) async {
        guard sessions[sid] != nil else { return }
        if sessions[sid]!.connecting != nil {
            sessions[sid]!.connecting!.buffered.append(message)
            return
        }
        switch message {
        case .binary(let bytes):
            await handleAttachment(bytes, sid: sid)
        case .text(let text):
            // A packet before the announced attachments are all in: socket.io-parser would give up on
            // the connection; we refuse only the incomplete packet.
            if sessions[sid]!.assembly != nil { abandonAttachments(sid: sid) }
            await handleText(text, sid: sid)
        }
    }

    private func handleText(_ text: String, sid: String) async {
        if text.utf8.count > configuration.events.maxBytes, let header = SocketIOPacket.header(of: text),
           [.event, .binaryEvent, .ack, .binaryAck].contains(header.type) {
            if header.attachments > 0 { sessions[sid]?.assembly = .discarding(remaining: header.attachments) }
            refuseOversizedEvent(header, sid: sid)
            return
        }
        let packet: SocketIOPacket
        do {
            packet = try SocketIOPacket.decode(text)
        } catch .invalidAttachments {
            // The header was read (the error comes after it), so its attachments are known to follow:
            // they are dropped.
            guard let header = SocketIOPacket.header(of: text) else { return close(sid: sid) }
            if header.attachments > 0 { sessions[sid]?.assembly = .discarding(remaining: header.attachments) }
            refuseAttachments(header, sid: sid)
            return
        } catch {
            // A packet we cannot parse ends the connection, as in the reference server.
            close(sid: sid)
            return
        }
        if let count = packet.attachments, count > 0 {
            sessions[sid]?.assembly = .collecting(packet, parts: [], bytes: text.utf8.count)
            return
        }
        await route(packet, attachments: [], sid: sid)
    }

    /// A binary message: the next attachment of the packet being assembled. The packet goes on once the
    /// last one is in; past `maxAttachmentBytes` it is refused and its remaining attachments dropped.
    private func handleAttachment(_ bytes: [UInt8], sid: String) async {
        switch sessions[sid]!.assembly {
        case nil:
            // No BINARY_EVENT/BINARY_ACK announced it. Before CONNECT that ends the connection like any
            // packet; on a connected session the message is dropped and nothing else is touched.
            if sessions[sid]!.sockets.isEmpty { close(sid: sid) }
        case .discarding(let remaining):
            sessions[sid]!.assembly = remaining > 1 ? .discarding(remaining: remaining - 1) : nil
        case .collecting(let packet, var parts, let held):
            sessions[sid]!.assembly = nil // so `parts` is not copied on append
            let count = packet.attachments ?? 0
            let total = held + bytes.count
            guard total <= configuration.maxAttachmentBytes else {
                let remaining = count - parts.count - 1
                if remaining > 0 { sessions[sid]!.assembly = .discarding(remaining: remaining) }
                refuseOversizedEvent(packet.header, sid: sid)
                return
            }
            parts.append(bytes)
            guard parts.count == count else {
                sessions[sid]!.assembly = .collecting(packet, parts: parts, bytes: total)
                return
            }
            await route(packet, attachments: parts, sid: sid)
        }
    }

    /// A text packet arrived while attachments were awaited: the incomplete packet is refused.
    private func abandonAttachments(sid: String) {
        let assembly = sessions[sid]!.assembly
        sessions[sid]!.assembly = nil
        if case .collecting(let packet, _, _) = assembly { refuseAttachments(packet.header, sid: sid) }
    }

    /// One whole packet, its attachments reassembled, to its namespace's socket.
    private func route(_ packet: SocketIOPacket, attachments: [[UInt8]], sid: String) async {
        guard sessions[sid] != nil else { return }
        guard configuration.namespaces.contains(packet.namespace) else {
            if packet.type == .connect {
                send(SocketIOPacket(.connectError, namespace: packet.namespace, data: Self.invalidNamespace), sid: sid)
            }
            return
        }
        if packet.type == .connect { sessions[sid]?.connectDeadline = nil }
        switch (packet.type, sessions[sid]!.sockets[packet.namespace]) {
        case (.connect, nil):
            // In a child task: what authentication and the subscription wait grow its allocator to is
            // freed when CONNECT is answered. Run on the connection's own long-lived task, those slabs
            // stayed allocated for the connection's whole life (profiled: ~10 KB of an idle socket).
            await withDiscardingTaskGroup { group in
                group.addTask { await self.connect(sid: sid, namespace: packet.namespace, auth: packet.data) }
            }
        case (.disconnect, let socket?):
            sessions[sid]?.sockets[packet.namespace] = nil
            socketGone(socket)
        case (.event, let socket?), (.binaryEvent, let socket?):
            dispatchEvent(packet, attachments: attachments, from: socket)
        case (.ack, let socket?), (.binaryAck, let socket?):
            if let id = packet.ackID {
                acks.resolve(id, from: socket, reply: SocketIOReply(packet.data?.arrayValue ?? [], attachments: attachments))
            }
        default:
            // A packet before its namespace's CONNECT, a second CONNECT, or a client-sent CONNECT_ERROR.
            close(sid: sid)
        }
    }

    /// Authenticates a CONNECT and answers CONNECT or CONNECT_ERROR.
    private func connect(sid: String, namespace: String, auth: JSONValue?) async {
        let headers = sessions[sid]?.headers ?? [:]
        sessions[sid]?.connecting = (namespace, [])
        let result = await handlers.authenticate(auth, headers)
        // The session may have ended while the authenticator ran.
        guard let buffered = sessions[sid]?.connecting?.buffered else { return }
        sessions[sid]!.connecting = nil
        switch result {
        case .rejected:
            send(SocketIOPacket(.connectError, namespace: namespace, data: Self.authenticationFailed), sid: sid)
        case .authenticated(let user):
            let recovered = configuration.recoveryWindow == nil
                ? nil : takeRecoverable(auth, user: user, namespace: namespace)
            var socket = recovered?.0.socket ?? SocketID(rawValue: RandomID.make())
            while recovered == nil, registry.sockets[socket] != nil { socket = SocketID(rawValue: RandomID.make()) }
            sessions[sid]?.sockets[namespace] = socket
            // Another namespace's CONNECT may still need them.
            if configuration.namespaces.count == 1 { sessions[sid]?.headers = [:] }
            sessions[sid]?.heldFrames = []
            let isFirst = registry.add(socket, user: user, sessionID: sid, namespace: namespace)
            var reply: JSONValue = ["sid": .string(socket.rawValue)]
            if let (saved, missed) = recovered {
                for room in saved.rooms { registry.join(socket, room: room) }
                replays[socket] = saved.replay
                reply = ["sid": .string(socket.rawValue), "pid": .string(saved.replay.pid)]
                // Missed packets go first, right after the CONNECT answer.
                sessions[sid]?.heldFrames = missed.map { ($0, 0) }
            } else if configuration.recoveryWindow != nil, Self.wantsRecovery(auth) {
                let pid = RandomID.make()
                replays[socket] = ReplayBuffer(pid: pid)
                reply = ["sid": .string(socket.rawValue), "pid": .string(pid)]
            }
            if isFirst { handlers.userOnline(user) }
            await handlers.beforeConnected(user)
            // The session may have ended, or the socket been disconnected, while waiting.
            guard sessions[sid]?.sockets[namespace] == socket else {
                // What was held for the session's other sockets goes now.
                if sessions[sid]?.sockets.isEmpty == false { releaseHeldFrames(sid: sid) }
                return
            }
            // The answer first, then what was held, so a client never sees an event before it is connected.
            send(SocketIOPacket(.connect, namespace: namespace, data: reply), sid: sid)
            releaseHeldFrames(sid: sid)
        }
        for message in buffered {
            await handleMessage(message, sid: sid)
        }
    }

    /// Sends the frames held while a CONNECT answer waited, in order, and stops holding.
    private func releaseHeldFrames(sid: String) {
        let held = sessions[sid]?.heldFrames ?? []
        sessions[sid]?.heldFrames = nil
        for (frame, tag) in held where sessions[sid] != nil {
            perform(sessions[sid]!.engine.send(frame, tracking: tag, now: tag == 0 ? nil : clock()), sid: sid)
        }
    }

    /// Admits a client event against the socket's rate and queue (`SocketEventQueue`): it starts now,
    /// waits its turn, or the socket is disconnected for going past a limit.
    private func dispatchEvent(_ packet: SocketIOPacket, attachments: [[UInt8]], from socket: SocketID) {
        guard let user = registry.sockets[socket]?.user, let elements = packet.data?.arrayValue,
            let first = elements.first
        else { return }
        let name: String
        switch first {
        case .string(let text): name = text
        default: name = first.jsonText
        }
        let event = SocketIOEvent(
            socket: socket, user: user, name: name, arguments: Array(elements.dropFirst()),
            wantsAck: packet.ackID != nil, namespace: packet.namespace, attachments: attachments)
        let now = clock()
        var queue = eventQueues[socket] ?? SocketEventQueue(limits: configuration.events, now: now)
        let admission = queue.admit(.init(event: event, ackID: packet.ackID), now: now)
        eventQueues[socket] = queue
        switch admission {
        case .start(let pending): start(pending)
        case .queued: break
        case .refused(let limit): disconnect(socket, exceeding: limit)
        }
    }

    /// What a client that asked for an ack gets for an event over `maxBytes`: the REST API's error shape.
    static func oversizedEventReply(maxBytes: Int) -> JSONValue {
        ["ok": false, "code": "payload_too_large", "message": .string("Event over \(maxBytes) bytes")]
    }

    /// What a client that asked for an ack gets for an event whose attachments do not match its header.
    static let invalidAttachmentsReply: JSONValue = [
        "ok": false, "code": "bad_request", "message": "Invalid binary attachments",
    ]

    /// An EVENT over `maxBytes` (a BINARY_EVENT: with its attachments, over `maxAttachmentBytes`),
    /// refused from its header alone (its payload is never parsed, let alone queued): counted, acked
    /// with an error if asked, and the socket stays. It still costs its share of the event rate, so a
    /// stream of them is a rate flood like any other. An oversized ACK or BINARY_ACK is dropped unparsed
    /// and counted: the emit that waits for it ends at its own timeout.
    private func refuseOversizedEvent(_ header: SocketIOPacket.Header, sid: String) {
        guard let socket = socketForRefusal(header, sid: sid) else { return }
        guard header.type == .event || header.type == .binaryEvent else {
            handlers.limitHit(SocketIOLimit.eventSize.name)
            return
        }
        let now = clock()
        var queue = eventQueues[socket] ?? SocketEventQueue(limits: configuration.events, now: now)
        let admitted = queue.takeToken(now: now)
        eventQueues[socket] = queue
        guard admitted else {
            disconnect(socket, exceeding: .eventRate)
            return
        }
        handlers.limitHit(SocketIOLimit.eventSize.name)
        if let ackID = header.ackID {
            let maxBytes = header.type == .binaryEvent ? configuration.maxAttachmentBytes : configuration.events.maxBytes
            sendFrame(SocketIOFrame.ack(ackID, [Self.oversizedEventReply(maxBytes: maxBytes)], namespace: header.namespace),
                      to: socket)
        }
    }

    /// Runs the application's handler (a nonisolated closure, so off the actor) in a task of its own,
    /// then sends its ACK and starts the socket's next waiting event.
    private func start(_ pending: SocketEventQueue.Pending) {
        let handler = handlers.event
        Task {
            let reply = await handler(pending.event)
            self.eventFinished(pending, reply: reply)
        }
    }

    private func eventFinished(_ pending: SocketEventQueue.Pending, reply: SocketIOReply?) {
        let socket = pending.event.socket
        if let ackID = pending.ackID, let reply {
            for frame in SocketIOFrame.ack(ackID, reply, namespace: pending.event.namespace) { sendFrame(frame, to: socket) }
        }
        guard eventQueues[socket] != nil, let next = eventQueues[socket]!.finished() else { return }
        start(next)
    }

    /// Tells the client which limit it went past (`limit:exceeded {limit, message}`), then disconnects
    /// it (Socket.IO DISCONNECT: the client does not reconnect by itself).
    func disconnect(_ socket: SocketID, exceeding limit: SocketIOLimit) {
        handlers.limitHit(limit.name)
        let notice: JSONValue = ["limit": .string(limit.name), "message": .string(limit.message)]
        sendFrame(SocketIOFrame.event("limit:exceeded", [notice], namespace: namespace(of: socket)), to: socket)
        disconnect(socket)
    }

    /// A BINARY_EVENT/BINARY_ACK whose placeholders do not match its attachment count, or cut short by
    /// a text packet: the event is acked with `invalidAttachmentsReply` if asked, an ack is dropped, and
    /// the socket stays.
    private func refuseAttachments(_ header: SocketIOPacket.Header, sid: String) {
        guard let socket = socketForRefusal(header, sid: sid), header.type == .binaryEvent,
              let ackID = header.ackID
        else { return }
        sendFrame(SocketIOFrame.ack(ackID, [Self.invalidAttachmentsReply], namespace: header.namespace), to: socket)
    }

    /// The socket a refused packet was for. Other namespaces' packets are ignored (nil), as in `route`;
    /// one before its namespace's CONNECT ends the connection, whatever it is.
    private func socketForRefusal(_ header: SocketIOPacket.Header, sid: String) -> SocketID? {
        guard configuration.namespaces.contains(header.namespace), sessions[sid] != nil else { return nil }
        guard let socket = sessions[sid]!.sockets[header.namespace] else {
            close(sid: sid)
            return nil
        }
        return socket
    }

    /// Sends one Socket.IO packet on a session.
    func send(_ packet: SocketIOPacket, sid: String) {
        guard sessions[sid] != nil else { return }
        perform(sessions[sid]!.engine.send(SocketIOFrame.message(packet)), sid: sid)
    }
}
