import Hummingbird
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Per-request state of the control server: the accepted connection, for its peer credentials.
public struct ControlRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Control bodies are tiny.
    public var maxUploadSize: Int { 64 * 1024 }

    /// SO_PEERCRED of the connection this request came on; nil when the channel is not a Unix
    /// socket we can ask (then the guard refuses the request).
    func peerCredentials() async -> PeerCredentials? {
        guard let provider = channel as? any SocketOptionProvider else { return nil }
        do {
            let raw: RawUcred = try await provider.unsafeGetSocketOption(
                level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED)).get()
            return PeerCredentials(pid: raw.pid, uid: raw.uid, gid: raw.gid)
        } catch {
            return nil
        }
    }
}
