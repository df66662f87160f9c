import Synchronization

/// Called once per tracked frame: true when it was written to the transport, false when it never
/// will be (the connection closed or was cut first).
public typealias FrameWritten = @Sendable (Bool) -> Void

/// The server's handle on one WebSocket. Calls come from the server's actor and must not block:
/// queue the frame and return. A frame `b<base64>` is a binary message: send it as a binary frame
/// (`EngineIOPacketData(webSocketFrame:)`).
public protocol EngineIOWebSocketWriter: Sendable {
    /// Queues one text frame.
    func write(_ text: String)
    /// Queues one text frame and reports, later, whether it was written.
    func write(_ text: String, whenWritten: FrameWritten?)
    /// Closes the connection after the queued frames.
    func close()
}

extension EngineIOWebSocketWriter {
    /// Writers that cannot tell when a frame leaves report it written once queued.
    public func write(_ text: String, whenWritten: FrameWritten?) {
        write(text)
        whenWritten?(true)
    }
}

/// A WebSocket's identity within the server: the session it carries and which attachment it is, so
/// frames from a WebSocket the server already dropped are ignored.
public struct EngineIOWebSocketConnection: Sendable, Hashable {
    public let sid: String
    let generation: UInt64
}

/// An `EngineIOWebSocketWriter` the HTTP layer drains into the real WebSocket, reporting each frame
/// written once the connection wrote it. The drain takes a batch (`takeBatch()`), writes it, and when
/// the connection has taken it asks again; with nothing queued it arms `whenReady` and is called back
/// by the next write or the close. A batch is whatever is queued when the drain gets to it, so the frames
/// one server turn writes (an update's events and their receipt ping) usually leave in one flush rather
/// than one each. Frames waiting here are bounded in bytes: a consumer that falls `limitBytes` behind is
/// cut off (`overflowed`) instead of growing memory, and every frame it had not written is reported
/// unwritten.
public final class EngineIOWebSocketOutbox: EngineIOWebSocketWriter, Sendable {
    public struct Frame: Sendable {
        public let text: String
        /// Call with the write's outcome (see `FrameWritten`).
        public let written: FrameWritten?
    }

    /// What `takeBatch()` found.
    public enum Batch: Sendable {
        /// Every frame queued, oldest first.
        case frames([Frame])
        /// Nothing queued: arm `whenReady`.
        case empty
        /// Closed and drained: the drain is over.
        case finished
    }

    private struct State {
        var queue: [Frame] = []
        var head = 0
        /// UTF-8 bytes queued and not yet taken by `takeBatch`.
        var bytes = 0
        var closed = false
        var overflowed = false
        /// The drain waiting for frames, called by the next write or the close (once).
        var ready: (@Sendable () -> Void)?
    }

    public let limitBytes: Int
    private let onOverflow: @Sendable () -> Void
    private let onClose: @Sendable () -> Void
    private let state = Mutex(State())

    /// - Parameters:
    ///   - onOverflow: called once when the outbox cuts the consumer off; the HTTP layer closes the
    ///     connection there, since its writes may be stuck on a peer that does not read.
    ///   - onClose: called once when the server closes the outbox (the session ended). The drain may
    ///     never get to `finished` after that (its write stuck on a peer that does not read), so this
    ///     is where the HTTP layer bounds how long the connection may take to go.
    public init(limitBytes: Int = 4 << 20, onOverflow: @escaping @Sendable () -> Void = {},
                onClose: @escaping @Sendable () -> Void = {}) {
        self.limitBytes = limitBytes
        self.onOverflow = onOverflow
        self.onClose = onClose
    }

    /// True once the consumer fell more than `limitBytes` behind and the outbox cut it off.
    public var overflowed: Bool { state.withLock { $0.overflowed } }

    public func write(_ text: String) { write(text, whenWritten: nil) }

    public func write(_ text: String, whenWritten: FrameWritten?) {
        let frame = Frame(text: text, written: whenWritten)
        enum Outcome { case queued((@Sendable () -> Void)?), refused, overflow([Frame]) }
        let outcome: Outcome = state.withLock { state in
            if state.closed { return .refused }
            state.queue.append(frame)
            state.bytes += text.utf8.count
            // A waiting drain takes it at once: only a drain that is behind can overflow.
            guard state.bytes > limitBytes, state.ready == nil else {
                defer { state.ready = nil }
                return .queued(state.ready)
            }
            state.overflowed = true
            state.closed = true
            let dropped = Array(state.queue[state.head...])
            state.queue = []
            state.head = 0
            state.bytes = 0
            return .overflow(dropped)
        }
        switch outcome {
        case .queued(let ready): ready?()
        case .refused: whenWritten?(false)
        case .overflow(let dropped):
            for frame in dropped { frame.written?(false) }
            onOverflow()
        }
    }

    /// Ends the stream after the queued frames; the HTTP layer closes the WebSocket when the drain is
    /// `finished`.
    public func close() {
        let (ready, first) = state.withLock { state -> ((@Sendable () -> Void)?, Bool) in
            let first = !state.closed
            state.closed = true
            defer { state.ready = nil }
            return (state.ready, first)
        }
        ready?()
        if first { onClose() }
    }

    /// Takes every frame queued (taken when the drain runs, not when the first frame came: frames
    /// queued meanwhile join).
    public func takeBatch() -> Batch {
        state.withLock { state in
            if state.head < state.queue.count {
                let frames = Array(state.queue[state.head...])
                state.queue.removeAll(keepingCapacity: true)
                state.head = 0
                state.bytes = 0
                return .frames(frames)
            }
            return state.closed ? .finished : .empty
        }
    }

    /// Calls `body` once a frame is queued or the outbox closes: at once (on this thread) if one is
    /// already, else from the `write` or `close` that comes next. One call per arming.
    public func whenReady(_ body: @escaping @Sendable () -> Void) {
        let now = state.withLock { state in
            if state.head < state.queue.count || state.closed { return true }
            state.ready = body
            return false
        }
        if now { body() }
    }

    /// Every frame queued, oldest first, waiting for at least one; nil once closed and drained, or when
    /// the calling task is cancelled. (The same drain as `takeBatch` and `whenReady`, for a task.)
    public func nextBatch() async -> [Frame]? {
        while !Task.isCancelled {
            switch takeBatch() {
            case .frames(let frames): return frames
            case .finished: return nil
            case .empty:
                let wake = Mutex<CheckedContinuation<Void, Never>?>(nil)
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        wake.withLock { $0 = continuation }
                        whenReady { wake.withLock { $0.take() }?.resume() }
                        if Task.isCancelled { wake.withLock { $0.take() }?.resume() }
                    }
                } onCancel: {
                    wake.withLock { $0.take() }?.resume()
                }
            }
        }
        return nil
    }

    /// The connection is gone: refuses further frames and reports every queued one unwritten.
    public func abandon() {
        let (dropped, ready) = state.withLock { state -> ([Frame], (@Sendable () -> Void)?) in
            state.closed = true
            let dropped = Array(state.queue[state.head...])
            state.queue = []
            state.head = 0
            state.bytes = 0
            defer { state.ready = nil }
            return (dropped, state.ready)
        }
        ready?()
        for frame in dropped { frame.written?(false) }
    }
}
