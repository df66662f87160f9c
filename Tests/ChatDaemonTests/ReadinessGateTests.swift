@testable import ChatDaemon
import Synchronization
import Testing

/// "chatd ready" waits for every listener, in whatever order they come up.
@Suite("readiness gate")
struct ReadinessGateTests {
    final class Announcements: Sendable {
        let ports = Mutex<[Int]>([])
    }

    @Test("ready is announced once, with the HTTP port, only after both HTTP and the control socket listen",
          arguments: [[ReadinessGate.Listener.http, .control], [.control, .http]])
    func announcesAfterAll(order: [ReadinessGate.Listener]) {
        let seen = Announcements()
        let gate = ReadinessGate(waitingFor: [.http, .control]) { port in seen.ports.withLock { $0.append(port) } }
        gate.listening(order[0], port: order[0] == .http ? 3001 : nil)
        #expect(seen.ports.withLock { $0 }.isEmpty)
        gate.listening(order[1], port: order[1] == .http ? 3001 : nil)
        #expect(seen.ports.withLock { $0 } == [3001])
        // A listener reporting again (a restart of one server) does not announce a second time.
        gate.listening(.control)
        #expect(seen.ports.withLock { $0 } == [3001])
    }
}
