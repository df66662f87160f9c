import ChatControl
import ChatCore
import Foundation
import Testing
import TestSupport

/// chatctl user commands that also reach a running chatd (SPEC §9).
@Suite("chatctl user and the running daemon", .serialized)
struct UserControlTests {
    /// Only the control call closes sockets here: chatd's periodic session recheck (5 s by default) also
    /// closes a disabled or deleted user's sockets, and on a loaded machine it came between chatctl's
    /// store write and its call to chatd, which then closed 0 sockets (a clean-clone run).
    static let withoutRecheck = ["CHATD_SESSION_RECHECK": "3600s"]

    @Test("user disable closes the user's open socket through the running chatd, and only theirs")
    func disableClosesSockets() async throws {
        let fixture = try await ControlFixture.start(Self.withoutRecheck)
        defer { Task { await fixture.stop() } }
        let (ann, annToken) = try await fixture.userWithToken(phone: "79002220001")
        let (_, bobToken) = try await fixture.userWithToken(phone: "79002220002")
        let annSocket = try ScriptedSocketClient(url: fixture.chatd.baseURL, token: annToken, transports: "websocket")
        let bobSocket = try ScriptedSocketClient(url: fixture.chatd.baseURL, token: bobToken, transports: "websocket")
        defer { Task { await annSocket.stop(); await bobSocket.stop() } }
        try await annSocket.waitFor { $0["connected"]?.boolValue == true }
        try await bobSocket.waitFor { $0["connected"]?.boolValue == true }

        // chatd has just accepted Ann's token, so without the kick it could trust it a moment longer.
        let me = "\(fixture.chatd.baseURL)/api/auth/me"
        #expect(try await HTTPTestClient.json("GET", me, token: annToken).status == 200)
        let disabled = try await fixture.chatctl(["user", "disable", ann, "--json"])
        #expect(disabled.status == 0, "\(disabled.stderr)")
        #expect(try JSONValue.parse(disabled.stdout)["status"]?.stringValue == "disabled")
        #expect(disabled.stderr.contains("chatd closed 1 socket of \(ann)"), "\(disabled.stderr)")
        let refused = try await HTTPTestClient.json("GET", me, token: annToken)
        #expect(refused.status == 401, "\(refused.text)")
        #expect(try await HTTPTestClient.json("GET", me, token: bobToken).status == 200)
        try await annSocket.waitFor { $0["disconnected"]?.boolValue == true }
        let status = try await fixture.client.status()
        #expect(status.connections == 1)
        #expect(!bobSocket.received.contains { $0["disconnected"]?.boolValue == true })
    }

    @Test("user delete closes the deleted user's socket through the running chatd")
    func deleteClosesSockets() async throws {
        let fixture = try await ControlFixture.start(Self.withoutRecheck)
        defer { Task { await fixture.stop() } }
        let (ann, annToken) = try await fixture.userWithToken(phone: "79002220008")
        let socket = try ScriptedSocketClient(url: fixture.chatd.baseURL, token: annToken, transports: "websocket")
        defer { Task { await socket.stop() } }
        try await socket.waitFor { $0["connected"]?.boolValue == true }

        let deleted = try await fixture.chatctl(["user", "delete", ann, "--yes"])
        #expect(deleted.status == 0, "\(deleted.stderr)")
        #expect(deleted.stdout == "deleted \(ann)\n")
        #expect(deleted.stderr.contains("chatd closed 1 socket of \(ann)"), "\(deleted.stderr)")
        try await socket.waitFor { $0["disconnected"]?.boolValue == true }
        #expect(try await fixture.client.status().connections == 0)
    }

    @Test("user disable without a running chatd still disables the user, says so on stderr and exits 0")
    func disableWithoutDaemon() async throws {
        let directory = try TemporaryDirectory("chatctl-disable")
        defer { directory.remove() }
        var environment = ControlFixture.environment(directory)
        environment["CHATD_CONTROL_SOCKET"] = directory.path("nobody-listens.sock")
        let chatctl = ChatBinaries.path("chatctl")
        let created = try await runCommand(chatctl, ["user", "create", "--create-store", "--phone", "79002220003", "--name", "Cy", "--json"],
                                           environment: environment)
        let id = try #require(try JSONValue.parse(created.stdout)["userId"]?.stringValue, "\(created.stderr)")

        let disabled = try await runCommand(chatctl, ["user", "disable", id], environment: environment)
        #expect(disabled.status == 0, "\(disabled.stderr)")
        #expect(disabled.stdout.contains("disabled"))
        #expect(disabled.stderr.contains("chatd is not running"), "\(disabled.stderr)")
        let shown = try await runCommand(chatctl, ["user", "show", id, "--json"], environment: environment)
        #expect(try JSONValue.parse(shown.stdout)["status"]?.stringValue == "disabled")
    }

    /// Whether chat3-sim has a user record for `userId` (tenant tnt_default).
    static func chat3Knows(_ sim: Chat3SimProcess, _ userId: String) async throws -> Bool {
        let answer = try await HTTPTestClient.send("GET", "\(sim.apiURL)/users/\(userId)",
                                                   headers: ["X-API-Key": sim.apiKey, "X-Tenant-ID": "tnt_default"])
        #expect(answer.status == 200 || answer.status == 404, "\(answer.text)")
        return answer.status == 200 && answer.json?["data"]?["userId"]?.stringValue == userId
    }

    @Test("user create registers the user in a reachable Chat3; rename registers one Chat3 did not know yet")
    func createAndRenameRegisterInChat3() async throws {
        let directory = try TemporaryDirectory("chatctl-chat3")
        defer { directory.remove() }
        let sim = try await Chat3SimProcess.start(logURL: directory.url.appendingPathComponent("sim.log"))
        defer { Task { await sim.service.stop() } }
        var environment = ControlFixture.environment(directory)
        environment["CHAT3_API_URL"] = sim.apiURL
        environment["CHAT3_API_KEY"] = sim.apiKey
        let chatctl = ChatBinaries.path("chatctl")

        let created = try await runCommand(chatctl, ["user", "create", "--create-store", "--phone", "79002220004", "--name", "Dee", "--json"],
                                           environment: environment)
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stderr.isEmpty, "\(created.stderr)")
        let id = try #require(try JSONValue.parse(created.stdout)["userId"]?.stringValue)
        #expect(try await Self.chat3Knows(sim, id))

        // A user created while Chat3 was away is registered by the next rename.
        var away = environment
        away["CHAT3_API_URL"] = "http://127.0.0.1:9/api"
        let offline = try await runCommand(chatctl, ["user", "create", "--phone", "79002220005", "--name", "Eve", "--json"],
                                           environment: away)
        let offlineId = try #require(try JSONValue.parse(offline.stdout)["userId"]?.stringValue, "\(offline.stderr)")
        #expect(try await !Self.chat3Knows(sim, offlineId))
        let renamed = try await runCommand(chatctl, ["user", "rename", offlineId, "Eve Online", "--json"], environment: environment)
        #expect(renamed.status == 0, "\(renamed.stderr)")
        #expect(try JSONValue.parse(renamed.stdout)["name"]?.stringValue == "Eve Online")
        #expect(try await Self.chat3Knows(sim, offlineId))
    }

    @Test("user create with Chat3 unreachable still creates the user, warns on stderr naming Chat3, and exits 0")
    func createWithChat3Unreachable() async throws {
        let directory = try TemporaryDirectory("chatctl-nochat3")
        defer { directory.remove() }
        var environment = ControlFixture.environment(directory)
        environment["CHAT3_API_URL"] = "http://127.0.0.1:9/api"
        let chatctl = ChatBinaries.path("chatctl")
        let created = try await runCommand(chatctl, ["user", "create", "--create-store", "--phone", "79002220006", "--name", "Fay", "--json"],
                                           environment: environment)
        #expect(created.status == 0, "\(created.stderr)")
        let id = try #require(try JSONValue.parse(created.stdout)["userId"]?.stringValue)
        #expect(created.stderrLines.count == 1, "\(created.stderr)")
        #expect(created.stderr.contains("warning: \(id) is in the store but not registered in Chat3 at http://127.0.0.1:9/api"),
                "\(created.stderr)")
        #expect(created.stderr.contains("Chat3 cannot be reached"), "\(created.stderr)")
        let shown = try await runCommand(chatctl, ["user", "show", id, "--json"], environment: environment)
        #expect(shown.status == 0)
        #expect(try JSONValue.parse(shown.stdout)["name"]?.stringValue == "Fay")
    }

    @Test("a broken chat3 setting stops user create before anything is written, with exit 78")
    func brokenChat3ConfigWritesNothing() async throws {
        let directory = try TemporaryDirectory("chatctl-badchat3")
        defer { directory.remove() }
        var environment = ControlFixture.environment(directory)
        environment["CHAT3_API_URL"] = "ftp://chat3.example/api"
        let chatctl = ChatBinaries.path("chatctl")
        let created = try await runCommand(chatctl, ["user", "create", "--phone", "79002220007", "--name", "Gus"], environment: environment)
        #expect(created.status == 78, "\(created.stderr)")
        #expect(created.stderr.contains("chat3.url"))
        // Not even the store file was created.
        let list = try await runCommand(chatctl, ["user", "list", "--json"], environment: environment)
        #expect(list.status == 66, "\(list.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.path("t.sqlite")))
    }
}
