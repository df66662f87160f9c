import ChatControl
@testable import ChatDaemon
import Testing

/// Who gets which role on the control socket, and which role each endpoint needs.
@Suite("control access")
struct ControlAccessTests {
    static let operators: UInt32 = 990
    static let access = ControlAccess(
        daemonUID: 995, operatorGroup: "chatd",
        groupID: { $0 == "chatd" ? operators : nil },
        groupsOfUser: { $0 == 1001 ? [1001, operators] : [$0] })

    @Test("root, the daemon's user, and operator-group members (primary or supplementary) may write; others get nothing")
    func roles() {
        #expect(Self.access.role(for: PeerCredentials(pid: 1, uid: 0, gid: 0)) == .write)
        #expect(Self.access.role(for: PeerCredentials(pid: 1, uid: 995, gid: 995)) == .write)
        #expect(Self.access.role(for: PeerCredentials(pid: 1, uid: 1002, gid: Self.operators)) == .write)
        #expect(Self.access.role(for: PeerCredentials(pid: 1, uid: 1001, gid: 1001)) == .write)
        #expect(Self.access.role(for: PeerCredentials(pid: 1, uid: 1003, gid: 1003)) == nil)
    }

    @Test("without the operator group only root and the daemon's user get in")
    func missingGroup() {
        let access = ControlAccess(daemonUID: 995, operatorGroup: "absent", groupID: { _ in nil }, groupsOfUser: { [$0] })
        #expect(access.role(for: PeerCredentials(pid: 1, uid: 1001, gid: 1001)) == nil)
        #expect(access.role(for: PeerCredentials(pid: 1, uid: 0, gid: 0)) == .write)
    }

    @Test("reading endpoints need the read role and everything that changes the daemon needs write")
    func table() {
        for endpoint in ControlEndpoint.allCases {
            let expected: ControlRole = endpoint.method == "GET" ? .read : .write
            #expect(endpoint.role == expected, "\(endpoint)")
        }
    }

    @Test("failures map to one status and wire code each")
    func errorMapping() {
        let cases: [(ControlFailure, Int)] = [
            (.forbidden(operatorGroup: "chatd"), 403), (.originRefused, 403), (.badRequest("x"), 400),
            (.notFound("x"), 404), (.invalidConfig("x"), 422), (.internalError("x"), 500),
        ]
        for (failure, status) in cases {
            #expect(ControlErrorMapping.response(for: failure).status.code == status, "\(failure)")
        }
    }
}
