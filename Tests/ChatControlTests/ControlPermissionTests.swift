import ChatControl
import Foundation
import Testing
import TestSupport

/// Who may use the control socket: real system users, real SO_PEERCRED. Tests run as root.
@Suite("control socket permissions", .serialized)
struct ControlPermissionTests {
    @Test("an operator-group member may use the socket; a stranger gets 77 with a hint and changes nothing, even on a world-writable socket")
    func strangersAndOperators() async throws {
        let group = "chatdops\(UInt16.random(in: 1000...UInt16.max))"
        #expect(runNow("/usr/sbin/groupadd", ["--system", group]) == 0)
        defer { runNow("/usr/sbin/groupdel", [group]) }
        let stranger = try SystemAccount.create(prefix: "chatdx")
        defer { stranger.remove() }
        let operatorAccount = try SystemAccount.create(prefix: "chatdop", supplementaryGroup: group)
        defer { operatorAccount.remove() }

        let fixture = try await ControlFixture.start(["CHATD_OPERATOR_GROUP": group])
        defer { Task { await fixture.stop() } }
        let attributes = try FileManager.default.attributesOfItem(atPath: fixture.socketPath)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o660)
        #expect(attributes[.groupOwnerAccountName] as? String == group)

        func chatctl(as account: SystemAccount, _ arguments: [String]) async throws -> CommandResult {
            try await runCommand("/usr/bin/setpriv", account.setprivPrefix + [ChatBinaries.path("chatctl")] + arguments,
                                 environment: fixture.environment)
        }

        // The socket's mode keeps the stranger out before chatd sees them.
        let denied = try await chatctl(as: stranger, ["daemon", "log-level", "trace"])
        #expect(denied.status == 77, "\(denied.stderr)")
        #expect(denied.stderr.contains("usermod -aG"))

        // Even if the file is opened to everyone, chatd checks the peer's credentials.
        #expect(chmod(fixture.socketPath, 0o666) == 0)
        let forbidden = try await chatctl(as: stranger, ["daemon", "log-level", "trace"])
        #expect(forbidden.status == 77, "\(forbidden.stderr)")
        #expect(forbidden.stderr.contains("'\(group)' group"), "\(forbidden.stderr)")
        let stopRefused = try await chatctl(as: stranger, ["daemon", "stop"])
        #expect(stopRefused.status == 77)
        let status = try await fixture.client.status()
        #expect(status.logLevel == .info)
        #expect(status.pid == fixture.chatd.service.pid)

        // A member through a supplementary group (not the primary one) is allowed.
        #expect(chmod(fixture.socketPath, 0o660) == 0)
        let allowed = try await chatctl(as: operatorAccount, ["daemon", "log-level", "notice"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(try await fixture.client.status().logLevel == .notice)
    }
}
