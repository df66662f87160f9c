import ChatControl
import ChatCore

/// What the control socket can ask of the running daemon. The control server depends only on this;
/// the composition root implements it (`LiveDaemonControl`), tests can substitute it.
public protocol DaemonControlling: Sendable {
    func status() async -> DaemonStatus
    func connections() async -> [ConnectionInfo]
    /// Disconnects every socket of the user; returns how many there were.
    func kick(user: UserID) async -> Int
    /// Closes the sockets of one token (revoked in the store already); returns how many there were here.
    func revoke(tokenID: String) async -> Int
    /// Refuses new sockets and closes existing ones so clients reconnect elsewhere; returns how many were closed.
    func drain() async -> Int
    /// Re-reads the configuration (like SIGHUP) and applies what can change while running.
    func reload() async throws(ControlFailure) -> ReloadResult
    /// Sets the level of every logger; returns the previous one.
    func setLogLevel(_ level: ControlLogLevel) async -> ControlLogLevel
    /// Starts a graceful shutdown (as SIGTERM does) after the current request is answered.
    func shutdown() async
}

/// Why a control request failed. `ControlErrorMapping` is the one place these become HTTP statuses
/// and wire codes.
public enum ControlFailure: Error, Sendable, Equatable {
    case forbidden(operatorGroup: String)
    case originRefused
    case badRequest(String)
    case notFound(String)
    case invalidConfig(String)
    case internalError(String)
}

/// chatd's version, as status reports it.
public enum ChatdVersion {
    public static let current = "0.1.0"
}
