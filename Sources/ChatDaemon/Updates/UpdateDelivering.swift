import ChatCore

/// Where updates go: the sockets of one user on this instance. The real-time hub implements it.
public protocol UpdateDelivering: Sendable {
    /// Emits `event` with `payload` to every live socket of `userId`; returns how many sockets got it.
    @discardableResult
    func deliver(_ event: String, _ payload: JSONValue, toUser userId: String) async -> Int
}
