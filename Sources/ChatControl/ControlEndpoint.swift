/// Every control-socket endpoint: HTTP method, versioned path and the role it needs, in one table.
/// Shared by the server (routing, the permission check) and the client, so the two cannot drift apart.
///
/// Adding an endpoint: a case and its line here, its request and answer types (`ControlWire`), its
/// handler (`ControlRoutes.handle`) and what it does (`LiveDaemonControl`). Clients call it with
/// `ControlClient.call(_:body:)`.
public enum ControlEndpoint: String, CaseIterable, Sendable, Hashable {
    case status
    case connections
    case kick
    case revoke
    case drain
    case reload
    case logLevel
    case shutdown

    public static let version = "v1"

    /// Method, path under `/v1/` (kebab-case), and the role a caller needs.
    private var line: (method: String, path: String, role: ControlRole) {
        switch self {
        case .status: ("GET", "/v1/status", .read)
        case .connections: ("GET", "/v1/connections", .read)
        case .kick: ("POST", "/v1/kick", .write)
        case .revoke: ("POST", "/v1/revoke", .write)
        case .drain: ("POST", "/v1/drain", .write)
        case .reload: ("POST", "/v1/reload", .write)
        case .logLevel: ("PUT", "/v1/log-level", .write)
        case .shutdown: ("POST", "/v1/shutdown", .write)
        }
    }

    public var method: String { line.method }
    public var path: String { line.path }
    /// Checked by the server before any handler runs; handlers never check permissions themselves.
    public var role: ControlRole { line.role }

    public static func matching(method: String, path: String) -> ControlEndpoint? {
        allCases.first { $0.method == method && $0.path == path }
    }
}

/// What a caller may do on the control socket.
public enum ControlRole: Int, Sendable, Comparable {
    /// Look: status, connections.
    case read
    /// Change things: kick, revoke, drain, reload, log level, shutdown.
    case write

    public static func < (lhs: ControlRole, rhs: ControlRole) -> Bool { lhs.rawValue < rhs.rawValue }
}
