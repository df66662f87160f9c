import Foundation

/// chatd's log levels, as the wire and `chatctl daemon log-level` spell them.
public enum ControlLogLevel: String, Codable, CaseIterable, Sendable {
    case trace, debug, info, notice, warning, error, critical
}

/// How a dependency of the daemon is doing, as `status` reports it.
public enum DependencyState: String, Codable, Sendable {
    case up
    case down
    /// The daemon has no way to tell (not wired, or never contacted yet).
    case unknown
}

/// `GET /v1/status`.
public struct DaemonStatus: Codable, Sendable, Equatable {
    public var version: String
    public var pid: Int32
    public var startedAt: Date
    public var uptimeSeconds: Double
    /// Connected Socket.IO sockets.
    public var connections: Int
    /// Users with at least one socket on this instance.
    public var usersOnline: Int
    /// Per-user AMQP subscriptions.
    public var subscriptions: Int
    /// Whether new sockets are refused.
    public var draining: Bool
    public var logLevel: ControlLogLevel
    public var broker: DependencyState
    public var store: DependencyState
    public var chat3: DependencyState
    /// Short hash of the effective configuration; changes when a reload changes anything.
    public var configDigest: String

    public init(version: String, pid: Int32, startedAt: Date, uptimeSeconds: Double, connections: Int,
                usersOnline: Int, subscriptions: Int, draining: Bool, logLevel: ControlLogLevel,
                broker: DependencyState, store: DependencyState, chat3: DependencyState, configDigest: String) {
        self.version = version
        self.pid = pid
        self.startedAt = startedAt
        self.uptimeSeconds = uptimeSeconds
        self.connections = connections
        self.usersOnline = usersOnline
        self.subscriptions = subscriptions
        self.draining = draining
        self.logLevel = logLevel
        self.broker = broker
        self.store = store
        self.chat3 = chat3
        self.configDigest = configDigest
    }
}

/// One connected user in `GET /v1/connections`.
public struct ConnectionInfo: Codable, Sendable, Equatable {
    public var userId: String
    public var sockets: Int
    /// Dialog rooms the user's sockets have joined.
    public var rooms: [String]

    public init(userId: String, sockets: Int, rooms: [String]) {
        self.userId = userId
        self.sockets = sockets
        self.rooms = rooms
    }
}

public struct ConnectionList: Codable, Sendable, Equatable {
    public var connections: [ConnectionInfo]

    public init(connections: [ConnectionInfo]) { self.connections = connections }
}

/// `POST /v1/kick` body.
public struct KickRequest: Codable, Sendable, Equatable {
    public var userId: String

    public init(userId: String) { self.userId = userId }
}

/// Close the sockets of one token (a revoked JWT), here and on the other instances.
public struct RevokeRequest: Codable, Sendable, Equatable {
    public var jti: String

    public init(jti: String) { self.jti = jti }
}

public struct RevokeResult: Codable, Sendable, Equatable {
    public var jti: String
    /// Sockets of that token closed here (0 when it had none on this instance).
    public var sockets: Int

    public init(jti: String, sockets: Int) {
        self.jti = jti
        self.sockets = sockets
    }
}

public struct KickResult: Codable, Sendable, Equatable {
    public var userId: String
    /// Sockets that were disconnected (0 when the user was not connected here).
    public var sockets: Int

    public init(userId: String, sockets: Int) {
        self.userId = userId
        self.sockets = sockets
    }
}

/// `POST /v1/drain`: new sockets are refused from now on and existing ones are closed so their
/// clients reconnect to another instance.
public struct DrainResult: Codable, Sendable, Equatable {
    public var draining: Bool
    /// Sockets that were closed.
    public var closed: Int

    public init(draining: Bool, closed: Int) {
        self.draining = draining
        self.closed = closed
    }
}

/// `POST /v1/reload` (and SIGHUP).
public struct ReloadResult: Codable, Sendable, Equatable {
    public var configDigest: String
    public var logLevel: ControlLogLevel
    /// Keys whose new value is in effect now.
    public var applied: [String]
    /// Keys that changed in the file or environment but only take effect after a restart.
    public var restartRequired: [String]

    public init(configDigest: String, logLevel: ControlLogLevel, applied: [String], restartRequired: [String]) {
        self.configDigest = configDigest
        self.logLevel = logLevel
        self.applied = applied
        self.restartRequired = restartRequired
    }
}

/// `PUT /v1/log-level` body.
public struct LogLevelRequest: Codable, Sendable, Equatable {
    public var level: ControlLogLevel

    public init(level: ControlLogLevel) { self.level = level }
}

public struct LogLevelResult: Codable, Sendable, Equatable {
    public var level: ControlLogLevel
    public var previous: ControlLogLevel

    public init(level: ControlLogLevel, previous: ControlLogLevel) {
        self.level = level
        self.previous = previous
    }
}

/// `POST /v1/shutdown`: the daemon answers, then drains and exits.
public struct ShutdownResult: Codable, Sendable, Equatable {
    public var stopping: Bool

    public init(stopping: Bool) { self.stopping = stopping }
}

/// Machine codes of control-socket errors. The server maps its failures to these in one place and
/// the client maps them back to `ControlClientError`; nobody reads the human message to decide.
public enum ControlErrorCode: String, Codable, Sendable {
    /// The peer is not root, the daemon's user, or in the operator group.
    case forbidden
    /// The request came with an `Origin` or `Referer` header (a browser); never allowed.
    case originRefused = "origin_refused"
    case badRequest = "bad_request"
    case notFound = "not_found"
    /// Reload found an invalid configuration; the running one stays in effect.
    case invalidConfig = "invalid_config"
    case internalError = "internal"
}

/// Every error response's body.
public struct ControlErrorBody: Codable, Sendable, Equatable {
    public var error: String
    public var code: ControlErrorCode
    /// On `forbidden`: the group whose members may use the socket.
    public var operatorGroup: String?

    public init(error: String, code: ControlErrorCode, operatorGroup: String? = nil) {
        self.error = error
        self.code = code
        self.operatorGroup = operatorGroup
    }
}

/// JSON coding both sides use: ISO 8601 dates.
public enum ControlJSON {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
