import ChatAMQP
import ChatConfig
import ChatControl
import ChatCore
import ChatStore

/// Everything a chatctl command can fail with. `exitStatus` is the one place errors become sysexits codes.
public enum CTLError: Error, Equatable {
    case usage(String)
    case badInput(String)
    /// An input that must exist does not (the store file a path names).
    case noInput(String)
    case failure(String)
    case unavailable(String)
    case temporary(String)
    case permissionDenied(String)
    case config(String)

    public var message: String {
        switch self {
        case .usage(let text), .badInput(let text), .noInput(let text), .failure(let text), .unavailable(let text),
             .temporary(let text), .permissionDenied(let text), .config(let text):
            text
        }
    }

    /// sysexits(3): 0 ok, 1 failure, 64 usage, 65 data, 66 no input, 69 unavailable, 75 temporary,
    /// 77 permission, 78 config.
    public var exitStatus: Int32 {
        switch self {
        case .failure: 1
        case .usage: 64
        case .badInput: 65
        case .noInput: 66
        case .unavailable: 69
        case .temporary: 75
        case .permissionDenied: 77
        case .config: 78
        }
    }

    /// The same kind, so the same exit status, with another message.
    public func withMessage(_ text: String) -> CTLError {
        switch self {
        case .usage: .usage(text)
        case .badInput: .badInput(text)
        case .noInput: .noInput(text)
        case .failure: .failure(text)
        case .unavailable: .unavailable(text)
        case .temporary: .temporary(text)
        case .permissionDenied: .permissionDenied(text)
        case .config: .config(text)
        }
    }

    /// Maps lower layers' errors to what the operator sees.
    public init(_ error: any Error) {
        switch error {
        case let error as CTLError: self = error
        case let error as ValidationError: self = .badInput(error.message)
        case let error as ConfigError: self = .config(error.message)
        case let error as StoreError:
            switch error {
            case .conflict, .notFound: self = .failure(error.message)
            case .unavailable: self = .unavailable(error.message)
            case .invalid(let why): self = .config("store.url: \(why)")
            case .missing(let path):
                self = .noInput("store not found: \(path) does not exist; chatd creates it on its first start "
                                + "(check store.url / CHATD_STORE, or pass --create-store to create an empty store here)")
            case .notWritable(let path, let reason):
                self = .permissionDenied("store not writable: \(path): \(reason); run as chatd's user, or as a member "
                                         + "of its group (the store is 0660 group chatd under the shipped unit), or use sudo -u chatd")
            }
        case let error as ControlClientError:
            switch error {
            case .notRunning, .transport: self = .unavailable(error.description)
            case .permissionDenied, .originRefused: self = .permissionDenied(error.description)
            case .badRequest: self = .badInput(error.description)
            case .invalidConfig: self = .config(error.description)
            case .timedOut: self = .temporary(error.description)
            case .notFound, .server, .protocolError: self = .failure(error.description)
            }
        case let error as RabbitManagementError:
            switch error {
            case .invalidURL: self = .config("rabbitmq.management_url: \(error.description)")
            case .unreachable: self = .unavailable(error.description)
            case .notFound: self = .failure("queue not found")
            case .unauthorized: self = .permissionDenied(error.description)
            case .http, .invalidResponse: self = .failure(error.description)
            }
        default: self = .failure("\(error)")
        }
    }
}
