import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The command queue in front of a thread that owns one librabbitmq connection.
///
/// Any thread may `send`; only the owning thread `drain`s and `wait`s. The owning thread sleeps in
/// `poll(2)` on its AMQP socket and on a self-pipe that `send` writes to when the queue goes from empty
/// to non-empty, so commands are picked up at once and an idle connection costs no CPU.
final class AMQPWorker<Command: Sendable>: Sendable {
    private struct Queue {
        var commands: [Command] = []
        var isClosed = false
    }

    private let queue = Mutex(Queue())
    private let wakeRead: Int32
    private let wakeWrite: Int32

    init() {
        var fds: [Int32] = [0, 0]
        let status = fds.withUnsafeMutableBufferPointer { pipe($0.baseAddress!) }
        precondition(status == 0, "pipe failed: \(errno)")
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    /// Starts the owning thread. `body` runs the whole connection lifetime on it.
    func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.name = name
        thread.stackSize = 512 * 1024
        thread.start()
    }

    /// Queues a command; returns false (and drops it) once the worker is closed.
    @discardableResult
    func send(_ command: Command) -> Bool {
        let wake: Bool? = queue.withLock { queue in
            guard !queue.isClosed else { return nil }
            queue.commands.append(command)
            return queue.commands.count == 1
        }
        guard let wake else { return false }
        if wake { signal() }
        return true
    }

    /// Takes every queued command (owning thread only).
    func drain() -> [Command] {
        var scratch = [UInt8](repeating: 0, count: 64)
        while scratch.withUnsafeMutableBytes({ read(wakeRead, $0.baseAddress, $0.count) }) > 0 {}
        return queue.withLock { queue in
            let commands = queue.commands
            queue.commands = []
            return commands
        }
    }

    /// Refuses further commands and returns those still queued, for the owner to fail.
    func closeQueue() -> [Command] {
        queue.withLock { queue in
            queue.isClosed = true
            let commands = queue.commands
            queue.commands = []
            return commands
        }
    }

    /// Sleeps until a command arrives, `socket` (if any) is readable or closed, or `timeout` passes.
    func wait(socket: Int32?, timeout: Duration) {
        let (seconds, attoseconds) = timeout.components
        let total = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        let milliseconds = Int32(clamping: max(0, total))
        var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        if let socket, socket >= 0 {
            fds.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0))
        }
        _ = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), milliseconds) }
    }

    private func signal() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }
}

/// Capped, jittered exponential backoff for reconnect attempts.
struct Backoff {
    let initial: Duration
    let maximum: Duration
    private var current: Duration

    init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = maximum
        self.current = initial
    }

    /// The next delay: a random point in the upper half of the current step, then the step doubles.
    mutating func next() -> Duration {
        let step = current
        current = min(maximum, current * 2)
        return step * Double.random(in: 0.5...1.0)
    }

    mutating func reset() { current = initial }
}
