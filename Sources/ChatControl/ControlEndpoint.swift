/// Every control-socket endpoint: HTTP method and versioned path. Shared by the server (routing, the
/// role table) and the client (one method per endpoint), so the two cannot drift apart.
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

    public var method: String {
        switch self {
        case .status, .connections: "GET"
        case .kick, .revoke, .drain, .reload, .shutdown: "POST"
        case .logLevel: "PUT"
        }
    }

    /// The path under `/v1/`, kebab-case.
    public var path: String {
        switch self {
        case .status: "/v1/status"
        case .connections: "/v1/connections"
        case .kick: "/v1/kick"
        case .revoke: "/v1/revoke"
        case .drain: "/v1/drain"
        case .reload: "/v1/reload"
        case .logLevel: "/v1/log-level"
        case .shutdown: "/v1/shutdown"
        }
    }

    public static func matching(method: String, path: String) -> ControlEndpoint? {
        allCases.first { $0.method == method && $0.path == path }
    }
}
