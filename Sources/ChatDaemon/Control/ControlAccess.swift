import ChatControl
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The connecting process's identity, from SO_PEERCRED (the kernel's, so it cannot be forged).
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

/// Layout of Linux's `struct ucred`, which Glibc's module does not export without _GNU_SOURCE.
struct RawUcred: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// Decides a peer's role: root, the daemon's own user, and members of the operator group (primary
/// or supplementary) may read and write; everyone else gets nothing. Group membership is looked up
/// on every request, so `usermod -aG` takes effect without restarting chatd.
public struct ControlAccess: Sendable {
    public let daemonUID: UInt32
    public let operatorGroup: String
    /// Injected for tests; the live ones read the user and group databases.
    var groupID: @Sendable (String) -> UInt32?
    var groupsOfUser: @Sendable (UInt32) -> [UInt32]

    public init(daemonUID: UInt32 = getuid(), operatorGroup: String) {
        self.init(daemonUID: daemonUID, operatorGroup: operatorGroup,
                  groupID: UserDatabase.groupID(named:), groupsOfUser: UserDatabase.groups(ofUID:))
    }

    init(daemonUID: UInt32, operatorGroup: String, groupID: @escaping @Sendable (String) -> UInt32?,
         groupsOfUser: @escaping @Sendable (UInt32) -> [UInt32]) {
        self.daemonUID = daemonUID
        self.operatorGroup = operatorGroup
        self.groupID = groupID
        self.groupsOfUser = groupsOfUser
    }

    public func role(for peer: PeerCredentials) -> ControlRole? {
        if peer.uid == 0 || peer.uid == daemonUID { return .write }
        guard let operators = groupID(operatorGroup) else { return nil }
        if peer.gid == operators || groupsOfUser(peer.uid).contains(operators) { return .write }
        return nil
    }
}

/// Reentrant lookups in the user and group databases (NSS: /etc/group, LDAP, …).
enum UserDatabase {
    static func groupID(named name: String) -> UInt32? {
        var group = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        while true {
            let status = getgrnam_r(name, &group, &buffer, buffer.count, &result)
            if status == ERANGE && buffer.count < 1 << 20 { buffer = [CChar](repeating: 0, count: buffer.count * 4); continue }
            guard status == 0, result != nil else { return nil }
            return group.gr_gid
        }
    }

    /// The user's primary and supplementary groups, empty when the uid has no user entry.
    static func groups(ofUID uid: UInt32) -> [UInt32] {
        var user = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        guard getpwuid_r(uid, &user, &buffer, buffer.count, &result) == 0, result != nil, let name = user.pw_name else {
            return []
        }
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, user.pw_gid, &groups, &count) == -1 {
            groups = [gid_t](repeating: 0, count: Int(count))
            guard getgrouplist(name, user.pw_gid, &groups, &count) != -1 else { return [user.pw_gid] }
        }
        return Array(groups.prefix(Int(count)))
    }
}
