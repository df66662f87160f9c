import Logging
import ServiceLifecycle
import Synchronization

/// Bounds a graceful shutdown in time. Listed last in the service group, so it hears the shutdown
/// first: it logs what is open, returns at once (the group goes on closing sockets, then HTTP), and
/// when `timeout` passes closes every connection still open, so the HTTP server's drain, which waits
/// for each connection's request to finish, cannot hold the exit up.
final class ShutdownDeadline: Service, Sendable {
    let timeout: Duration
    let connections: ConnectionTracker
    let openSessions: @Sendable () async -> Int
    let logger: Logger
    private let timer = Mutex<Task<Void, Never>?>(nil)

    init(timeout: Duration, connections: ConnectionTracker, openSessions: @escaping @Sendable () async -> Int,
         logger: Logger) {
        self.timeout = timeout
        self.connections = connections
        self.openSessions = openSessions
        self.logger = logger
    }

    func run() async throws {
        // Cancelled rather than shut down: nothing to bound.
        guard (try? await gracefulShutdown()) != nil else { return }
        let sessions = await openSessions()
        logger.notice("shutting down", metadata: [
            "connection.count": "\(connections.openCount)", "session.count": "\(sessions)",
            "deadline.seconds": "\(timeout.components.seconds)",
        ])
        let task = Task { [connections, logger, timeout, openSessions] in
            do { try await Task.sleep(for: timeout) } catch { return }
            let sessions = await openSessions()
            let closed = connections.closeAll()
            logger.warning("shutdown deadline reached; closing what is still open", metadata: [
                "connection.count": "\(closed)", "session.count": "\(sessions)",
            ])
        }
        timer.withLock { $0 = task }
    }

    /// The group has finished: the deadline is moot.
    func finished() {
        timer.withLock { $0?.cancel() }
    }
}
