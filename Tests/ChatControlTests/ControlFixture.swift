import ChatControl
import ChatCore
import Foundation
import TestSupport

/// A real chatd on a free port with its control socket in a temporary folder.
struct ControlFixture {
    let directory: TemporaryDirectory
    let chatd: ChatdProcess
    let environment: [String: String]
    var socketPath: String { directory.path("c.sock") }
    var client: ControlClient { ControlClient(socketPath: socketPath) }

    static func environment(_ directory: TemporaryDirectory) -> [String: String] {
        [
            "CHATD_STORE": "sqlite://\(directory.path("t.sqlite"))",
            "CHATD_STATE_DIR": directory.url.path,
            "CHATD_CONFIG": "/dev/null",
            "JWT_SECRET": String(repeating: "k", count: 40),
            "SMS_SENDER": "command",
            "SMS_COMMAND": "/bin/true",
            "CHATD_CONTROL_SOCKET": directory.path("c.sock"),
            "CHAT3_API_URL": "http://127.0.0.1:9/api",
        ]
    }

    /// Starts chatd; `extra` overrides the environment; waits until the control socket listens.
    static func start(_ extra: [String: String] = [:]) async throws -> ControlFixture {
        let directory = try TemporaryDirectory("chatd-control")
        let environment = Self.environment(directory).merging(extra) { $1 }
        let chatd = try await ChatdProcess.start(environment: environment, logURL: directory.url.appendingPathComponent("chatd.log"))
        _ = try await chatd.service.waitForLine("control socket listening")
        return ControlFixture(directory: directory, chatd: chatd, environment: environment)
    }

    func stop() async {
        await chatd.service.stop()
        directory.remove()
    }

    /// Runs the real chatctl with this chatd's environment.
    func chatctl(_ arguments: [String], stdin: String? = nil, extra: [String: String] = [:]) async throws -> CommandResult {
        try await runCommand(ChatBinaries.path("chatctl"), arguments, environment: environment.merging(extra) { $1 }, stdin: stdin)
    }

    /// A user in chatd's store and a token chatd accepts for them.
    func userWithToken(phone: String) async throws -> (userId: String, token: String) {
        let created = try await chatctl(["user", "create", "--phone", phone, "--name", "Ann", "--json"])
        guard created.status == 0, let userId = try JSONValue.parse(created.stdout)["userId"]?.stringValue else {
            throw FixtureFailure("user create: \(created.stderr)")
        }
        let minted = try await chatctl(["token", "mint", "--user", userId])
        guard minted.status == 0 else { throw FixtureFailure("token mint: \(minted.stderr)") }
        return (userId, minted.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

struct FixtureFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a program to completion synchronously (for clean-up in `defer`).
@discardableResult
func runNow(_ executable: String, _ arguments: [String]) -> Int32 {
    guard let child = try? ChildProcess(executable: executable, arguments: arguments,
                                        environment: ProcessInfo.processInfo.environment) else { return -1 }
    return child.waitBlocking().status
}

/// A system user (and optionally group) created for one test and deleted afterwards.
struct SystemAccount {
    let user: String
    let uid: UInt32
    let gid: UInt32

    static func create(prefix: String, supplementaryGroup: String? = nil) throws -> SystemAccount {
        let name = "\(prefix)\(UInt16.random(in: 1000...UInt16.max))"
        var arguments = ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group"]
        if let supplementaryGroup { arguments += ["--groups", supplementaryGroup] }
        guard runNow("/usr/sbin/useradd", arguments + [name]) == 0, let entry = getpwnam(name) else {
            throw FixtureFailure("useradd \(name) failed (tests must run as root)")
        }
        return SystemAccount(user: name, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    func remove() { runNow("/usr/sbin/userdel", [user]) }

    /// setpriv arguments that run a program as this user with exactly its groups (the environment is kept).
    var setprivPrefix: [String] { ["--reuid=\(uid)", "--regid=\(gid)", "--init-groups", "--"] }
}
