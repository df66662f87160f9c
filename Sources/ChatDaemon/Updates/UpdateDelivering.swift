import ChatCore

/// Where updates go: the sockets of one user on this instance. The real-time hub implements it.
public protocol UpdateDelivering: Sendable {
    /// Emits `emissions`, in order, to every live socket of `userId`; returns how many sockets got them.
    /// `whenWritten` is called once, only if that is more than zero: true when every one of those
    /// sockets wrote the frames to its transport, false as soon as one's session ended before.
    func deliver(_ emissions: [UpdateEvents.Emission], toUser userId: String,
                 whenWritten: @escaping @Sendable (Bool) -> Void) async -> Int
}
