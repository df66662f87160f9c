extension SocketIOServer {
    /// The handshake GET (no `sid`): creates a polling session and returns the response body, the
    /// `open` packet. `headers` (names lowercased) go to the authenticator at CONNECT; `address` is the
    /// client's, for `maxSessionsPerAddress`.
    public func openPollingSession(headers: [String: String], address: String? = nil) throws(EngineIORequestError) -> String {
        let sid = newSessionID()
        let engine = EngineIOSession(sid: sid, transport: .polling, configuration: configuration.engine, now: clock())
        var record = SessionRecord(engine: engine, headers: headers)
        record.address = address
        try admit(record, sid: sid)
        return EngineIOSession.openPacket(sid: sid, transport: .polling, configuration: configuration.engine)
    }

    /// A polling GET: returns the body at once when packets are queued, otherwise waits until one is
    /// (at the latest the next ping). Cancelling the calling task releases the wait.
    ///
    /// - Parameter onConnectionClose: registers a callback for when the GET's connection closes; the
    ///   held GET's connection closing ends the session at once (a transport error, as in engine.io).
    public func poll(
        sid: String, onConnectionClose: (@Sendable (@escaping @Sendable () -> Void) -> Void)? = nil
    ) async throws(EngineIORequestError) -> String {
        guard sessions[sid] != nil else { throw .unknownSessionID }
        let token = makeToken()
        onConnectionClose?({ Task { await self.pollConnectionClosed(sid: sid, token: token) } })
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                beginPoll(sid: sid, token: token, continuation: continuation)
            }
        } onCancel: {
            Task { await self.cancelPoll(sid: sid, token: token) }
        }
        return try result.get()
    }

    private func beginPoll(
        sid: String, token: UInt64,
        continuation: CheckedContinuation<Result<String, EngineIORequestError>, Never>
    ) {
        guard sessions[sid] != nil else {
            continuation.resume(returning: .failure(.unknownSessionID))
            return
        }
        let transition = sessions[sid]!.engine.poll(now: clock())
        if let rejection = transition.rejection {
            // Effects here answer the poll that was already pending, not this one.
            perform(transition.effects, sid: sid)
            continuation.resume(returning: .failure(rejection))
            return
        }
        confirmPollAnswers(sid: sid)
        guard sessions[sid] != nil else {
            continuation.resume(returning: .failure(.unknownSessionID))
            return
        }
        sessions[sid]!.poll = PollWaiter(token: token, continuation: continuation)
        perform(transition.effects, sid: sid)
    }

    private func cancelPoll(sid: String, token: UInt64) {
        guard let waiter = sessions[sid]?.poll, waiter.token == token else { return }
        sessions[sid]?.poll = nil
        sessions[sid]?.engine.pollCancelled()
        waiter.continuation.resume(returning: .success(EngineIOPacket(.noop).encoded))
    }

    /// The connection of a GET closed. If that GET is still held, the client went away: the session
    /// ends now instead of at the ping timeout.
    private func pollConnectionClosed(sid: String, token: UInt64) {
        guard let waiter = sessions[sid]?.poll, waiter.token == token else { return }
        perform(sessions[sid]!.engine.pollConnectionClosed(), sid: sid)
    }

    /// A polling POST body (`ok` on success). A POST while another is processed, an oversized body or
    /// a malformed payload closes the session, as the reference server does.
    public func post(sid: String, body: String) async throws(EngineIORequestError) {
        guard sessions[sid] != nil else { throw .unknownSessionID }
        let transition = sessions[sid]!.engine.post(body, now: clock())
        let messages = perform(transition.effects, sid: sid)
        if let rejection = transition.rejection {
            if rejection == .tooManyPackets { handlers.limitHit(SocketIOLimit.packetsPerPost.name) }
            throw rejection
        }
        await handleMessages(messages, sid: sid)
        sessions[sid]?.engine.postFinished()
    }

    func newSessionID() -> String {
        var sid = RandomID.make()
        while sessions[sid] != nil { sid = RandomID.make() }
        return sid
    }
}
