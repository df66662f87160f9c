import ChatCore
import Foundation
import Testing
import TestSupport

/// schemathesis (PyPI) against the live OpenAPI document and a live server: real chatd, real chat3-sim,
/// an authenticated caller and a real dialog and message, so requests reach the routes' logic rather than
/// stopping at 401 or 404. Any finding — a 5xx, a schema-valid request refused for a reason the document
/// does not state, a schema-invalid one accepted, a response or status the document does not describe,
/// a 405 without Allow — fails the test. Examples are bounded so the run stays short.
@Suite("OpenAPI document against the live server", .serialized)
struct SchemathesisTests {
    @Test("schemathesis reports no finding against the live document with an authenticated caller and real dialogs")
    func schemathesisFindsNothing() async throws {
        let stack = try await Chat3Stack.start()
        let ann = try await stack.user("Ann"), bob = try await stack.user("Bob")
        let created = try await stack.call("POST", "/api/dialogs", ["name": "Fuzzed", "memberIds": [.string(bob.id)]], as: ann)
        let dialog = try #require(created.json?["data"]?["dialogId"]?.stringValue)
        let sent = try await stack.call("POST", "/api/dialog/\(dialog)/messages", ["content": "seed"], as: ann)
        let message = try #require(sent.json?["data"]?["messageId"]?.stringValue)

        // Path parameters are the real dialog, message and member; rules that depend on state rather than
        // on the request's shape (a wrong login code, a phone without an account needing a name, members
        // who do not exist, more unread than there are) may answer 400 to schema-valid data.
        let config = stack.directory.path("schemathesis.toml")
        try """
        [parameters]
        "path.dialogId" = "\(dialog)"
        "path.messageId" = "\(message)"
        "path.userId" = "\(bob.id)"

        [[operations]]
        include-path-regex = "^/api/(auth/(request|verify)-code|dialogs|dialogs/\\\\{dialogId\\\\}/(unread|members))$"
        checks.positive_data_acceptance.expected-statuses = ["2XX", 400, 404, 409, 429]
        """.write(toFile: config, atomically: true, encoding: .utf8)
        guard let root = RepositoryRoot.find() else { throw CocoaError(.fileNoSuchFile) }
        let result = try await runCommand(
            root.appendingPathComponent(".venv/bin/st").path,
            ["--config-file", config, "run", stack.chatd.baseURL + "/api/openapi.json",
             "-H", "Authorization: Bearer \(ann.token)",
             "--max-examples", "8", "--seed", "15", "--no-shrink", "--workers", "1", "--request-timeout", "10",
             // Logging out would end the caller's session, and deleting the dialog every later case's.
             "--exclude-path", "/api/auth/logout", "--exclude-path-regex", "^/api/dialogs/\\{dialogId\\}$",
             "--phases", "examples,coverage,fuzzing", "--no-color"],
            environment: ["NO_COLOR": "1"], timeoutSeconds: 300)
        let report = result.stdout.split(separator: "\n").suffix(80).joined(separator: "\n")
        #expect(result.status == 0, "schemathesis exited \(result.status):\n\(report)\n\(result.stderr.suffix(2000))")
        #expect(!result.stdout.contains("Failures:"), "\(report)")
        // It did test the API: every operation but the two excluded.
        let tested = result.stdout.firstMatch(of: /Tested: ([0-9]+)/).flatMap { Int($0.1) } ?? 0
        #expect(tested >= 20, "\(report)")
        await stack.stop()
    }
}
