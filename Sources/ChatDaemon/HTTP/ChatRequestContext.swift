import ChatCore
import Hummingbird
import NIOCore

/// Per-request state: Hummingbird's core storage, the peer address (for per-IP limits) and,
/// after authentication, who is calling.
public struct ChatRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    public var identity: AuthenticatedUser?
    /// The request's connection, so a held long-poll learns when it closes.
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
        remoteAddress = source.channel.remoteAddress
        identity = nil
    }

    /// The client address as text; behind a proxy this is the proxy's.
    public var clientAddress: String {
        remoteAddress?.ipAddress ?? "unknown"
    }

    /// Request bodies above 1 MiB are refused with 413.
    public var maxUploadSize: Int { 1 << 20 }
}

/// Who a valid token belongs to, as the routes see it.
public struct AuthenticatedUser: Sendable, Equatable {
    public let user: User
    public let tokenID: String
    public let expiresAt: Double

    public init(user: User, tokenID: String, expiresAt: Double) {
        self.user = user
        self.tokenID = tokenID
        self.expiresAt = expiresAt
    }
}
