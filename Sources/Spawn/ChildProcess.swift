import CSpawn
import Foundation
import Synchronization

/// A child program, started with `posix_spawn` and reaped by a thread of its own.
///
/// Why not Foundation's `Process`: on Linux it lists `/proc/self/fd` before every launch, copying each
/// entry's whole 256-byte name out of the directory buffer. In a process with thousands of sockets that
/// copy runs past the buffer's end and crashes (seen in chatd's test runs at ~1,350 open descriptors),
/// and the walk costs time proportional to the open descriptors. Here the kernel closes every inherited
/// descriptor (`closefrom`), signals start at their defaults and unblocked, and the child leads its own
/// process group, so a timeout can stop a shell and everything it started.
public final class ChildProcess: Sendable {
    /// Where one of the child's standard streams goes.
    public enum Stream: Sendable {
        /// `/dev/null`.
        case null
        /// The same descriptor as ours.
        case inherit
        /// A descriptor of ours (a file or a pipe end); the child gets its own copy.
        case descriptor(Int32)
    }

    /// How the child ended.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        /// The exit code, or the signal's number (as Foundation's `terminationStatus` reports it).
        public var status: Int32 {
            switch self {
            case .exited(let code), .signalled(let code): code
            }
        }

        public var description: String {
            switch self {
            case .exited(let code): "exited with \(code)"
            case .signalled(let signal): "killed by signal \(signal)"
            }
        }
    }

    public let pid: Int32
    private let state = Mutex(State())

    private struct State {
        var termination: Termination?
        var waiters: [@Sendable (Termination) -> Void] = []
    }

    /// Starts `executable` (a path, not looked up in PATH) with exactly `environment`.
    public init(executable: String, arguments: [String] = [], environment: [String: String],
                stdin: Stream = .null, stdout: Stream = .null, stderr: Stream = .null,
                directory: String? = nil) throws(SpawnError) {
        var null: Int32 = -1
        defer { if null >= 0 { close(null) } }
        func descriptor(_ stream: Stream) throws(SpawnError) -> Int32 {
            switch stream {
            case .inherit: return -1
            case .descriptor(let fd): return fd
            case .null:
                if null < 0 { null = open("/dev/null", O_RDWR | O_CLOEXEC) }
                guard null >= 0 else { throw SpawnError(executable: executable, errno: errno) }
                return null
            }
        }
        let fds = (try descriptor(stdin), try descriptor(stdout), try descriptor(stderr))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let error = cspawn_start(&pid, executable, argv, envp, fds.0, fds.1, fds.2, directory)
        guard error == 0 else { throw SpawnError(executable: executable, errno: error) }
        self.pid = pid
        startReaper()
    }

    /// nil while the child runs.
    public var termination: Termination? { state.withLock { $0.termination } }
    public var isRunning: Bool { termination == nil }

    /// Sends `signal` to the child (to its whole process group with `group`), unless it was already
    /// reaped: its pid may belong to another process by then.
    public func send(_ signal: Int32, group: Bool = false) {
        state.withLock { state in
            // The reaper only reaps (waitpid) while holding this lock, so an unreaped pid is still ours.
            guard state.termination == nil else { return }
            _ = kill(group ? -pid : pid, signal)
        }
    }

    /// Sends `signal` after `seconds` unless the child has ended by then; `cancel()` the returned
    /// timer once it is not needed. A dispatch timer, not a sleeping task: a timeout must fire even when
    /// every thread of Swift's cooperative pool is busy.
    @discardableResult
    public func send(_ signal: Int32, group: Bool = false, after seconds: Double) -> DispatchWorkItem {
        let timer = DispatchWorkItem { [self] in send(signal, group: group) }
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: timer)
        return timer
    }

    /// Waits for the child to end.
    @discardableResult
    public func wait() async -> Termination {
        await withCheckedContinuation { continuation in
            onTermination { continuation.resume(returning: $0) }
        }
    }

    /// Blocks the calling thread until the child ends (for synchronous clean-up code).
    @discardableResult
    public func waitBlocking() -> Termination {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Termination?>(nil)
        onTermination { termination in
            result.withLock { $0 = termination }
            done.signal()
        }
        done.wait()
        return result.withLock { $0! }
    }

    /// Calls `handler` once the child has ended (at once if it has), on an unspecified thread.
    public func onTermination(_ handler: @escaping @Sendable (Termination) -> Void) {
        let ended: Termination? = state.withLock { state in
            if state.termination == nil { state.waiters.append(handler) }
            return state.termination
        }
        if let ended { handler(ended) }
    }

    /// A blocking `waitid` on a thread of its own (not the cooperative pool, nor a dispatch worker).
    /// `WNOWAIT` leaves the child a zombie until the lock is held, so `send` never signals a reused pid.
    private func startReaper() {
        let pid = self.pid
        let thread = Thread { [self] in
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
            let waiters: [@Sendable (Termination) -> Void]
            let termination: Termination
            (termination, waiters) = state.withLock { state in
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                let ended: Termination = (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signalled(status & 0x7f)
                state.termination = ended
                defer { state.waiters = [] }
                return (ended, state.waiters)
            }
            for waiter in waiters { waiter(termination) }
        }
        thread.name = "reaper \(pid)"
        thread.stackSize = 64 * 1024
        thread.start()
    }
}

/// A program that could not be started, with the system's reason.
public struct SpawnError: Error, CustomStringConvertible, Sendable {
    public let executable: String
    public let errno: Int32

    public var description: String { "cannot start \(executable): \(String(cString: strerror(errno)))" }
}
