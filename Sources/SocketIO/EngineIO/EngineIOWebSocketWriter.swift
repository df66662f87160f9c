/// The server's handle on one WebSocket. Calls come from the server's actor and must not block:
/// queue the frame and return.
public protocol EngineIOWebSocketWriter: Sendable {
    /// Queues one text frame.
    func write(_ text: String)
    /// Closes the connection after the queued frames.
    func close()
}

/// A WebSocket's identity within the server: the session it carries and which attachment it is, so
/// frames from a WebSocket the server already dropped are ignored.
public struct EngineIOWebSocketConnection: Sendable, Hashable {
    public let sid: String
    let generation: UInt64
}

/// An `EngineIOWebSocketWriter` that feeds a stream the HTTP layer drains into the real WebSocket.
/// A consumer that falls `bufferLimit` frames behind is cut off instead of growing memory.
public struct EngineIOWebSocketOutbox: EngineIOWebSocketWriter {
    public enum Frame: Sendable, Hashable {
        case text(String)
    }

    public let frames: AsyncStream<Frame>
    private let continuation: AsyncStream<Frame>.Continuation

    public init(bufferLimit: Int = 4096) {
        (frames, continuation) = AsyncStream.makeStream(of: Frame.self, bufferingPolicy: .bufferingOldest(bufferLimit))
    }

    public func write(_ text: String) {
        if case .dropped = continuation.yield(.text(text)) {
            continuation.finish()
        }
    }

    /// Ends the stream; the HTTP layer closes the WebSocket when the stream ends.
    public func close() {
        continuation.finish()
    }
}
