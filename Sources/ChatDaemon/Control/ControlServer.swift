import ChatControl
import Dispatch
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The control channel: HTTP/1.1 + JSON under `/v1/` on a Unix socket (mode 0660, group = the
/// operator group), plus SIGHUP = reload. Runs as a service of the daemon's group; removes its
/// socket file when it stops.
public struct ControlServer: Service {
    let socket: ControlSocketFile
    let controller: LiveDaemonControl
    let access: ControlAccess
    let logger: Logger
    /// Called once the socket accepts connections with its final mode and group.
    let onListening: @Sendable () -> Void

    /// Prepares the socket path (throws when another chatd listens there or the path is not a socket).
    public init(path: String, operatorGroup: String, controller: LiveDaemonControl, logger: Logger,
                onListening: @escaping @Sendable () -> Void = {}) throws(ControlSocketError) {
        socket = try ControlSocketFile.prepare(path: path, operatorGroup: operatorGroup)
        self.controller = controller
        access = ControlAccess(operatorGroup: operatorGroup)
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let router = ControlRoutes.buildRouter(controller: controller, access: access, logger: logger)
        let socket = socket
        let logger = logger
        let onListening = onListening
        let app = Application(
            router: router,
            configuration: .init(address: .unixDomainSocket(path: socket.path), serverName: nil),
            onServerRunning: { _ in
                socket.secure(logger: logger)
                logger.info("control socket listening", metadata: ["control.socket": "\(socket.path)"])
                onListening()
            },
            logger: Self.serverLogger)
        let hangups = Self.hangups()
        defer { socket.remove(logger: logger) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            group.addTask {
                for await _ in hangups { await reload() }
            }
            // The app returns on graceful shutdown (or throws); then stop listening for SIGHUP too.
            try await group.next()
            group.cancelAll()
        }
    }

    func reload() async {
        do {
            let result = try await controller.reload()
            logger.notice("configuration reloaded", metadata: [
                "config.digest": "\(result.configDigest)", "log.level": "\(result.logLevel.rawValue)",
                "config.applied": "\(result.applied.joined(separator: ","))",
                "config.restart_required": "\(result.restartRequired.joined(separator: ","))",
            ])
        } catch {
            logger.error("reload refused, previous configuration kept", metadata: ["error": "\(error)"])
        }
    }

    /// SIGHUP deliveries. The default action (terminate) is replaced by ignoring it; the dispatch
    /// source still sees it.
    /// Hummingbird's own lines for the control socket: its startup line repeats ours, and a start cut short
    /// (HTTP could not bind) it reports as an error about a cancelled child channel, which misleads.
    static var serverLogger: Logger {
        var logger = Logger(label: "chatd.control")
        logger.logLevel = .critical
        return logger
    }

    static func hangups() -> AsyncStream<Void> {
        signal(SIGHUP, SIG_IGN)
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        // Only resumed here and cancelled once from onTermination; DispatchSource is thread-safe for both.
        nonisolated(unsafe) let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { continuation.yield() }
        continuation.onTermination = { _ in source.cancel() }
        source.resume()
        return stream
    }
}

public enum ControlSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    case inUse(path: String)
    case notASocket(path: String)
    case cannotCreate(path: String, reason: String)

    public var description: String {
        switch self {
        case .inUse(let path): "control socket \(path): another chatd is listening there"
        case .notASocket(let path): "control socket \(path): exists and is not a socket; refusing to replace it"
        case .cannotCreate(let path, let reason): "control socket \(path): \(reason)"
        }
    }
}

/// The socket file's life: checked before binding, given mode 0660 and the operator group after,
/// removed at stop only if it is still ours (a newer chatd may have replaced it).
struct ControlSocketFile: Sendable {
    let path: String
    let operatorGroup: String
    private let identity = SocketIdentity()

    static func prepare(path: String, operatorGroup: String) throws(ControlSocketError) -> ControlSocketFile {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o755])
            } catch {
                throw .cannotCreate(path: path, reason: "cannot create \(directory): \(error.localizedDescription)")
            }
        }
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFSOCK else { throw .notASocket(path: path) }
            if answers(path) { throw .inUse(path: path) }
            // A stale socket from a chatd that did not stop cleanly: nothing listens, so replacing it is safe.
            guard unlink(path) == 0 else {
                throw .cannotCreate(path: path, reason: "cannot remove stale socket: \(String(cString: strerror(errno)))")
            }
        }
        return ControlSocketFile(path: path, operatorGroup: operatorGroup)
    }

    /// Whether something accepts connections on `path`.
    static func answers(_ path: String) -> Bool {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
    }

    /// 0660, group = the operator group when it exists. Peer credentials are checked on every request
    /// anyway; the mode keeps everyone else from even connecting.
    func secure(logger: Logger) {
        if chmod(path, 0o660) != 0 {
            logger.warning("cannot set control socket mode", metadata: ["control.socket": "\(path)", "error": "\(String(cString: strerror(errno)))"])
        }
        if let group = UserDatabase.groupID(named: operatorGroup) {
            if chown(path, uid_t.max, group) != 0 {
                logger.warning("cannot give the control socket to the operator group", metadata: [
                    "control.socket": "\(path)", "control.group": "\(operatorGroup)", "error": "\(String(cString: strerror(errno)))"])
            }
        } else {
            logger.info("operator group does not exist; only root and chatd's user can use the control socket",
                        metadata: ["control.group": "\(operatorGroup)"])
        }
        var info = stat()
        if stat(path, &info) == 0 { identity.set(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)) }
    }

    func remove(logger: Logger) {
        var info = stat()
        guard stat(path, &info) == 0, identity.matches(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)) else { return }
        unlink(path)
    }
}

/// Device and inode of the socket we bound, to recognise it at removal.
final class SocketIdentity: Sendable {
    private let value = Mutex<(UInt64, UInt64)?>(nil)

    func set(device: UInt64, inode: UInt64) { value.withLock { $0 = (device, inode) } }

    func matches(device: UInt64, inode: UInt64) -> Bool {
        value.withLock { $0.map { $0 == (device, inode) } ?? false }
    }
}
