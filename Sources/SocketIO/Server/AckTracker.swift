import ChatCore

/// Server-to-client emits waiting for the client's ACK, with their deadlines.
struct AckTracker {
    typealias Continuation = CheckedContinuation<Result<SocketIOReply, SocketIOAckError>, Never>

    private struct Pending {
        var socket: SocketID
        var deadline: ContinuousClock.Instant
        var continuation: Continuation
    }

    /// Ids are unique across sockets, so one counter serves all.
    private var lastID = 0
    private var pending: [Int: Pending] = [:]

    var count: Int { pending.count }

    mutating func register(
        socket: SocketID, deadline: ContinuousClock.Instant, continuation: Continuation
    ) -> Int {
        lastID += 1
        pending[lastID] = Pending(socket: socket, deadline: deadline, continuation: continuation)
        return lastID
    }

    /// The client's ACK; ignored unless it comes from the socket the emit went to.
    mutating func resolve(_ id: Int, from socket: SocketID, reply: SocketIOReply) {
        guard pending[id]?.socket == socket, let entry = pending.removeValue(forKey: id) else { return }
        entry.continuation.resume(returning: .success(reply))
    }

    mutating func expire(now: ContinuousClock.Instant) {
        let due = pending.filter { $0.value.deadline <= now }
        for (id, entry) in due {
            pending[id] = nil
            entry.continuation.resume(returning: .failure(.timeout))
        }
    }

    mutating func fail(socket: SocketID) {
        let lost = pending.filter { $0.value.socket == socket }
        for (id, entry) in lost {
            pending[id] = nil
            entry.continuation.resume(returning: .failure(.disconnected))
        }
    }
}
