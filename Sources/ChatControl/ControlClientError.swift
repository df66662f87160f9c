/// What can go wrong talking to chatd's control socket, as data: chatctl maps each case to one exit
/// status, and never looks at message text to decide.
public enum ControlClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing listens on the socket (no file, or a stale one): chatd is not running.
    case notRunning(socketPath: String)
    /// The socket file refused us (EACCES) or the daemon answered 403 for our credentials.
    case permissionDenied(socketPath: String, operatorGroup: String?)
    /// The daemon refuses requests that look like they come from a browser.
    case originRefused(String)
    case badRequest(String)
    case notFound(String)
    /// Reload found an invalid configuration; the daemon keeps running with the previous one.
    case invalidConfig(String)
    /// The daemon did not answer in time.
    case timedOut(socketPath: String)
    case server(String)
    /// The answer was not the HTTP/JSON we expect (another program on the socket?).
    case protocolError(String)
    /// A socket call failed in another way.
    case transport(socketPath: String, errno: Int32, String)

    public var description: String {
        switch self {
        case .notRunning(let path):
            "chatd is not running (nothing listens on \(path))"
        case .permissionDenied(let path, let group):
            "permission denied on \(path): " + Self.accessHint(group: group)
        case .originRefused(let message), .badRequest(let message), .notFound(let message),
             .invalidConfig(let message), .server(let message), .protocolError(let message):
            message
        case .timedOut(let path):
            "chatd did not answer on \(path) in time"
        case .transport(let path, _, let message):
            "\(path): \(message)"
        }
    }

    /// The fix an operator needs after "access denied".
    public static func accessHint(group: String?) -> String {
        let group = group ?? "chatd"
        return "add yourself to the '\(group)' group (usermod -aG \(group) \"$USER\", then log in again) or use sudo"
    }
}
