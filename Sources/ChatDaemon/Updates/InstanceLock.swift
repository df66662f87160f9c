import ChatAMQP
import ChatConfig
import ChatStore
import Logging
import ServiceLifecycle
import Synchronization

/// Another chatd already runs as this instance on this broker; chatd stopped (exit 78, EX_CONFIG).
public struct InstanceTaken: Error, Sendable {
    public let message: String
    public var exitStatus: Int32 { 78 }
}

/// Makes sure one chatd per instance name consumes the per-user queues on a broker. Two chatd with
/// the same queue names would be competing consumers, each getting part of a user's updates, so the
/// second one refuses to run instead (see DESIGN.md, "Several instances").
///
/// The lock is an exclusive queue held on its own connection for the process lifetime (the broker
/// drops it with the connection, also on a crash). Its name carries the instance name and a hash of
/// what makes two chatd share queues: the resolved queue template and the user store (user ids come
/// from the store, so chatd on different stores never share a user's queue).
public final class InstanceLock: Service, Sendable {
    private struct State {
        var firstEvent: AMQPExclusiveQueue.Event?
        var startupWaiter: CheckedContinuation<AMQPExclusiveQueue.Event, Never>?
        var taken = false
        var onTaken: (@Sendable () async -> Void)?
    }

    public let queueName: String
    /// What chatd logs when the lock is held elsewhere.
    public let refusal: String
    /// Shared with the lock thread's event handler.
    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    private let shared: Shared
    private let takenSignal: AsyncStream<Void>
    private let takenInput: AsyncStream<Void>.Continuation
    private let logger: Logger
    private let lock: AMQPExclusiveQueue

    public init(config: ChatdConfig, logger: Logger) throws(AMQPURLError) {
        let url = try AMQPURL(config.rabbitMQURL)
        let instance = config.queues.instance.isEmpty ? "default" : config.queues.instance
        let name = Self.queueName(instance: instance, config: config)
        queueName = name
        refusal = "another chatd holds instance \"\(instance)\" on this broker; give each instance its own "
            + "rabbitmq.instance (CHATD_INSTANCE) and put {instance} in rabbitmq.queue_template"
        self.logger = logger
        let (signal, input) = AsyncStream.makeStream(of: Void.self)
        (takenSignal, takenInput) = (signal, input)
        let shared = Shared()
        self.shared = shared
        lock = AMQPExclusiveQueue(url: url, queue: name, logger: logger) { event in
            let isStartupAnswer = shared.state.withLock { state -> Bool in
                if case .heldElsewhere = event { state.taken = true }
                guard state.firstEvent == nil else { return false }
                state.firstEvent = event
                state.startupWaiter?.resume(returning: event)
                state.startupWaiter = nil
                return true
            }
            switch event {
            case .held: logger.info("instance lock held", metadata: ["amqp.queue": "\(name)"])
            case .heldElsewhere where !isStartupAnswer: input.yield()
            default: break
            }
        }
    }

    static func queueName(instance: String, config: ChatdConfig) -> String {
        let resolvedTemplate = config.queues.template.replacingOccurrences(of: "{instance}", with: config.queues.instance)
        // The store as it is, not as the URL spells it: one file reached by two paths is one store.
        let store = (try? StoreLocation(parsing: config.storeURL))?.identity ?? config.storeURL
        return "chatd.instance-lock.\(instance).\(fnv1a(resolvedTemplate + "\n" + store))"
    }

    /// A stable hash (Swift's `Hasher` is seeded per process); hides the store URL's password too.
    static func fnv1a(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(hash, radix: 36)
    }

    /// Connects and tries the lock once; throws if another chatd holds it. A broker that does not
    /// answer is no reason not to start: the lock keeps trying in the background.
    public func acquireAtStartup() async throws(InstanceTaken) {
        lock.start()
        let first = await withCheckedContinuation { (continuation: CheckedContinuation<AMQPExclusiveQueue.Event, Never>) in
            let known = shared.state.withLock { state -> AMQPExclusiveQueue.Event? in
                if state.firstEvent == nil { state.startupWaiter = continuation }
                return state.firstEvent
            }
            if let known { continuation.resume(returning: known) }
        }
        if case .heldElsewhere = first {
            logger.critical("\(refusal)")
            throw InstanceTaken(message: refusal)
        }
    }

    /// Called (once) when the lock turns out to be held elsewhere after startup: chatd shuts down.
    public func onTaken(_ handler: @escaping @Sendable () async -> Void) {
        shared.state.withLock { $0.onTaken = handler }
    }

    /// Whether another chatd held the lock (chatd must then exit 78).
    public var wasTaken: Bool { shared.state.withLock { $0.taken } }

    public func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in takenSignal {
                logger.critical("\(refusal)")
                let handler = shared.state.withLock { $0.onTaken }
                await handler?()
            }
        } onGracefulShutdown: { [takenInput] in
            takenInput.finish()
        }
        await lock.stop()
    }
}
