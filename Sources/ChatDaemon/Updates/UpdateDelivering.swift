import ChatCore

/// Where updates go: the sockets of one user on this instance. The real-time hub implements it.
public protocol UpdateDelivering: Sendable {
    /// Emits `emissions`, in order, to every live socket of `userId` except those in `skipping` (socket
    /// ids that have them already); returns how many sockets got them and how many were skipped.
    /// `whenWritten` is called once, only if `reached` is more than zero, with the sockets that have
    /// them and whether every socket reached does (false when one's session ended first).
    func deliver(_ emissions: [UpdateEvents.Emission], toUser userId: String, skipping: Set<String>,
                 whenWritten: @escaping @Sendable (_ wrote: Set<String>, _ allWrote: Bool) -> Void)
        async -> (reached: Int, alreadyHad: Int)
}
