/// Failures of the AMQP publisher and consumer. No librabbitmq types leak through.
public enum AMQPError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The broker could not be reached or refused the login; `underlying` is librabbitmq's text.
    case unavailable(underlying: String)
    /// The consumer is between connections (it is reconnecting); try again when it reports `.connected`.
    case notConnected
    /// The connection dropped while the operation was in flight; it may or may not have taken effect.
    case connectionLost(underlying: String)
    /// The broker refused the operation by closing the channel or connection, e.g. 404 (no such
    /// exchange or queue), 406 (a queue redeclared with other arguments), 403 (access refused).
    case refused(code: Int, text: String)
    /// 405 RESOURCE_LOCKED: an exclusive queue belongs to another connection.
    case locked(text: String)
    /// The broker negatively acknowledged a published message.
    case nacked
    /// `close()` / `stop()` was called.
    case closed

    public var description: String {
        switch self {
        case .unavailable(let underlying): "broker unavailable: \(underlying)"
        case .notConnected: "not connected to the broker"
        case .connectionLost(let underlying): "connection to the broker lost: \(underlying)"
        case .refused(let code, let text): "broker refused the operation (\(code)): \(text)"
        case .locked(let text): "held by another connection (405): \(text)"
        case .nacked: "broker did not accept the message"
        case .closed: "the AMQP client is closed"
        }
    }
}
