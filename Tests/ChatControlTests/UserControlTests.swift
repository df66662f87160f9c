import ChatControl
import ChatCore
import Foundation
import Testing
import TestSupport

/// chatctl user commands that also reach a running chatd (SPEC §9).
@Suite("chatctl user and the running daemon", .serialized)
struct UserControlTests {
    @Test("user disable closes the user's open socket through the running chatd, and only theirs")
    func disableClosesSockets() async throws {
        let fixture = try await ControlFixture.start()
        defer { Task { await fixture.stop() } }
        let (ann, annToken) = try await fixture.userWithToken(phone: "79002220001")
        let (_, bobToken) = try await fixture.userWithToken(phone: "79002220002")
        let annSocket = try ScriptedSocketClient(url: fixture.chatd.baseURL, token: annToken, transports: "websocket")
        let bobSocket = try ScriptedSocketClient(url: fixture.chatd.baseURL, token: bobToken, transports: "websocket")
        defer { Task { await annSocket.stop(); await bobSocket.stop() } }
        try await annSocket.waitFor { $0["connected"]?.boolValue == true }
        try await bobSocket.waitFor { $0["connected"]?.boolValue == true }

        let disabled = try await fixture.chatctl(["user", "disable", ann, "--json"])
        #expect(disabled.status == 0, "\(disabled.stderr)")
        #expect(try JSONValue.parse(disabled.stdout)["status"]?.stringValue == "disabled")
        #expect(disabled.stderr.contains("chatd closed 1 socket of \(ann)"), "\(disabled.stderr)")
        try await annSocket.waitFor { $0["disconnected"]?.boolValue == true }
        let status = try await fixture.client.status()
        #expect(status.connections == 1)
        #expect(!bobSocket.received.contains { $0["disconnected"]?.boolValue == true })
    }

    @Test("user disable without a running chatd still disables the user, says so on stderr and exits 0")
    func disableWithoutDaemon() async throws {
        let directory = try TemporaryDirectory("chatctl-disable")
        defer { directory.remove() }
        var environment = ControlFixture.environment(directory)
        environment["CHATD_CONTROL_SOCKET"] = directory.path("nobody-listens.sock")
        let chatctl = ChatBinaries.path("chatctl")
        let created = try await runCommand(chatctl, ["user", "create", "--phone", "79002220003", "--name", "Cy", "--json"],
                                           environment: environment)
        let id = try #require(try JSONValue.parse(created.stdout)["userId"]?.stringValue, "\(created.stderr)")

        let disabled = try await runCommand(chatctl, ["user", "disable", id], environment: environment)
        #expect(disabled.status == 0, "\(disabled.stderr)")
        #expect(disabled.stdout.contains("disabled"))
        #expect(disabled.stderr.contains("chatd is not running"), "\(disabled.stderr)")
        let shown = try await runCommand(chatctl, ["user", "show", id, "--json"], environment: environment)
        #expect(try JSONValue.parse(shown.stdout)["status"]?.stringValue == "disabled")
    }
}
