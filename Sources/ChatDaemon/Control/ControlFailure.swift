import ChatControl
import ChatCore

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
