/// Why a Chat3 call failed, as chatd needs to know it. Chat3's error bodies and the API key never travel
/// upward: a `badRequest` names at most the field Chat3 objected to, and only when that name is plain.
public enum Chat3Error: Error, Equatable, Sendable {
    /// Chat3 cannot be reached (connection refused, reset, DNS) or the circuit breaker is open.
    case unavailable
    /// No complete answer within the request timeout.
    case timeout
    case notFound
    case forbidden
    /// Chat3 refused the input; `field` is the first offending field when Chat3 names one.
    case badRequest(field: String?)
    case conflict
    /// Chat3's duplicate-request guard (429).
    case rateLimited
    /// Chat3 refused our API key or tenant: a deployment problem, not the caller's.
    case unauthorized
    /// Any other non-2xx status, typically 5xx.
    case server(status: Int)
    /// A 2xx answer that is not the JSON the contract describes.
    case invalidResponse

    /// Failures that say Chat3 is unhealthy; they count towards opening the circuit breaker.
    var isOutage: Bool {
        switch self {
        case .unavailable, .timeout: true
        case .server(let status): status >= 500
        default: false
        }
    }

    /// Failures worth a retry of an idempotent request. A timeout is not retried: it has used the budget.
    var isRetryable: Bool {
        switch self {
        case .unavailable: true
        case .server(let status): status == 502 || status == 503 || status == 504 || status == 500
        default: false
        }
    }

    /// A short constant label for logs and metrics.
    public var label: String {
        switch self {
        case .unavailable: "unavailable"
        case .timeout: "timeout"
        case .notFound: "not_found"
        case .forbidden: "forbidden"
        case .badRequest: "bad_request"
        case .conflict: "conflict"
        case .rateLimited: "rate_limited"
        case .unauthorized: "unauthorized"
        case .server: "server"
        case .invalidResponse: "invalid_response"
        }
    }
}
