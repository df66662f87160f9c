import ChatCore

extension SocketIOServer {
    static let authenticationFailed: JSONValue = ["message": "Authentication failed"]
    static let invalidNamespace: JSONValue = ["message": "Invalid namespace"]

    func handleMessages(_ messages: [EngineIOPacketData], sid: String) async {
        for message in messages {
            await handleMessage(message, sid: sid)
        }
    }

    /// One Engine.IO message: a Socket.IO packet.
    func handleMessage(_ message: EngineIOPacketData, sid: String) async {
        guard let record = sessions[sid] else { return }
        guard case .text(let text) = message else {
            refuseBinary(sid: sid)
            return
        }
        if case .connecting(var buffered) = record.namespace {
            buffered.append(text)
            sessions[sid]?.namespace = .connecting(buffered: buffered)
            return
        }
        if text.utf8.count > configuration.events.maxBytes, let header = SocketIOPacket.header(of: text),
           header.type == .event {
            refuseOversizedEvent(header, sid: sid)
            return
        }
        let packet: SocketIOPacket
        do {
            packet = try SocketIOPacket.decode(text)
        } catch .binaryAttachmentsNotSupported {
            refuseBinary(sid: sid)
            return
        } catch {
            // A packet we cannot parse ends the connection, as in the reference server.
            close(sid: sid)
            return
        }
        guard packet.namespace == SocketIOPacket.mainNamespace else {
            if packet.type == .connect {
                send(SocketIOPacket(.connectError, namespace: packet.namespace, data: Self.invalidNamespace), sid: sid)
            }
            return
        }
        if packet.type == .connect { sessions[sid]?.connectDeadline = nil }
        switch (packet.type, record.namespace) {
        case (.connect, .idle):
            // In a child task: what authentication and the subscription wait grow its allocator to is
            // freed when CONNECT is answered. Run on the connection's own long-lived task, those slabs
            // stayed allocated for the connection's whole life (profiled: ~10 KB of an idle socket).
            await withDiscardingTaskGroup { group in
                group.addTask { await self.connect(sid: sid, auth: packet.data) }
            }
        case (.disconnect, .connected(let socket)):
            sessions[sid]?.namespace = .idle
            socketGone(socket)
        case (.event, .connected(let socket)):
            dispatchEvent(packet, from: socket)
        case (.ack, .connected(let socket)):
            if let id = packet.ackID { acks.resolve(id, from: socket, arguments: packet.data?.arrayValue ?? []) }
        default:
            // A packet before CONNECT, a second CONNECT, or a client-sent CONNECT_ERROR.
            close(sid: sid)
        }
    }

    /// Authenticates a CONNECT and answers CONNECT or CONNECT_ERROR.
    private func connect(sid: String, auth: JSONValue?) async {
        let headers = sessions[sid]?.headers ?? [:]
        sessions[sid]?.namespace = .connecting(buffered: [])
        let result = await handlers.authenticate(auth, headers)
        // The session may have ended while the authenticator ran.
        guard case .connecting(let buffered) = sessions[sid]?.namespace else { return }
        switch result {
        case .rejected:
            sessions[sid]?.namespace = .idle
            send(SocketIOPacket(.connectError, data: Self.authenticationFailed), sid: sid)
        case .authenticated(let user):
            let recovered = configuration.recoveryWindow == nil ? nil : takeRecoverable(auth, user: user)
            var socket = recovered?.0.socket ?? SocketID(rawValue: RandomID.make())
            while recovered == nil, registry.sockets[socket] != nil { socket = SocketID(rawValue: RandomID.make()) }
            sessions[sid]?.namespace = .connected(socket)
            sessions[sid]?.headers = [:]
            sessions[sid]?.heldFrames = []
            let isFirst = registry.add(socket, user: user, sessionID: sid)
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
            guard case .connected(socket) = sessions[sid]?.namespace else { return }
            let held = sessions[sid]?.heldFrames ?? []
            sessions[sid]?.heldFrames = nil
            send(SocketIOPacket(.connect, data: reply), sid: sid)
            for (frame, tag) in held where sessions[sid] != nil {
                perform(sessions[sid]!.engine.send(frame, tracking: tag, now: tag == 0 ? nil : clock()), sid: sid)
            }
        }
        for text in buffered {
            await handleMessage(.text(text), sid: sid)
        }
    }

    /// Admits a client event against the socket's rate and queue (`SocketEventQueue`): it starts now,
    /// waits its turn, or the socket is disconnected for going past a limit.
    private func dispatchEvent(_ packet: SocketIOPacket, from socket: SocketID) {
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
            wantsAck: packet.ackID != nil)
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

    /// An EVENT over `maxBytes`, refused from its header alone (its payload is never parsed, let alone
    /// queued): counted, acked with an error if asked, and the socket stays. It still costs its share
    /// of the event rate, so a stream of them is a rate flood like any other.
    private func refuseOversizedEvent(_ header: (type: SocketIOPacketType, namespace: String, ackID: Int?), sid: String) {
        // Other namespaces' events are ignored anyway (as in handleMessage).
        guard header.namespace == SocketIOPacket.mainNamespace else { return }
        guard case .connected(let socket) = sessions[sid]?.namespace else {
            // An event before CONNECT ends the connection, whatever its size.
            close(sid: sid)
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
            sendFrame(SocketIOFrame.ack(ackID, [Self.oversizedEventReply(maxBytes: configuration.events.maxBytes)]),
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

    private func eventFinished(_ pending: SocketEventQueue.Pending, reply: [JSONValue]?) {
        let socket = pending.event.socket
        if let ackID = pending.ackID, let reply {
            sendFrame(SocketIOFrame.ack(ackID, reply), to: socket)
        }
        guard eventQueues[socket] != nil, let next = eventQueues[socket]!.finished() else { return }
        start(next)
    }

    /// Tells the client which limit it went past (`limit:exceeded {limit, message}`), then disconnects
    /// it (Socket.IO DISCONNECT: the client does not reconnect by itself).
    func disconnect(_ socket: SocketID, exceeding limit: SocketIOLimit) {
        handlers.limitHit(limit.name)
        let notice: JSONValue = ["limit": .string(limit.name), "message": .string(limit.message)]
        sendFrame(SocketIOFrame.event("limit:exceeded", [notice]), to: socket)
        disconnect(socket)
    }

    /// BINARY_EVENT/BINARY_ACK. Before CONNECT: a clear CONNECT_ERROR. On a connected socket a
    /// CONNECT_ERROR would make socket.io-client give up for good, so the session is closed at the
    /// transport level instead, as for any packet the server cannot take.
    private func refuseBinary(sid: String) {
        if case .connected = sessions[sid]?.namespace {
            close(sid: sid)
            return
        }
        let error: JSONValue = ["message": .string(SocketIOProtocolError.binaryAttachmentsNotSupported.message)]
        send(SocketIOPacket(.connectError, data: error), sid: sid)
    }

    /// Sends one Socket.IO packet on a session.
    func send(_ packet: SocketIOPacket, sid: String) {
        guard sessions[sid] != nil else { return }
        perform(sessions[sid]!.engine.send(SocketIOFrame.message(packet)), sid: sid)
    }
}
