import Synchronization

/// Announces readiness once, after every listener it waits for is up: "chatd ready" and READY=1 must
/// mean that HTTP and the control socket both answer, whichever of them started listening last.
final class ReadinessGate: Sendable {
    enum Listener: Hashable, Sendable {
        case http
        case control
    }

    private struct State {
        var pending: Set<Listener>
        var httpPort: Int?
    }

    private let state: Mutex<State>
    private let announce: @Sendable (_ httpPort: Int) -> Void

    init(waitingFor listeners: Set<Listener>, announce: @escaping @Sendable (_ httpPort: Int) -> Void) {
        state = Mutex(State(pending: listeners))
        self.announce = announce
    }

    /// Whether `listener` reported that it listens.
    func isListening(_ listener: Listener) -> Bool {
        state.withLock { !$0.pending.contains(listener) }
    }

    /// Called by each listener once it accepts connections; the HTTP one passes its port.
    func listening(_ listener: Listener, port: Int? = nil) {
        let readyPort: Int? = state.withLock { state in
            if let port { state.httpPort = port }
            guard state.pending.remove(listener) != nil, state.pending.isEmpty else { return nil }
            return state.httpPort ?? 0
        }
        if let readyPort { announce(readyPort) }
    }
}
