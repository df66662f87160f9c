import ChatCore
import ChatDaemon
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("OpenAPI document")
struct OpenAPITests {
    @Test("GET /api/openapi.json answers without a token and lists exactly the methods and paths the router serves")
    func documentMatchesRouter() async throws {
        let h = try await DaemonHarness()
        let router = Daemon.buildRouter(h.services)
        // Socket.IO's transport endpoint is not part of the REST API.
        let served = Set(router.routes.map { "\($0.method.rawValue) \($0.path)" }.filter { !$0.contains("/socket.io") })
        try await h.test { client in
            let response = try await client.get("/api/openapi.json")
            #expect(response.status == .ok)
            let document = try #require(response.json)
            #expect(document["openapi"]?.stringValue?.hasPrefix("3.") == true)
            let paths = try #require(document["paths"]?.objectValue)
            var documented: Set<String> = []
            for (path, operations) in paths {
                for method in operations.objectValue?.keys ?? [:].keys { documented.insert("\(method.uppercased()) \(path)") }
            }
            #expect(documented == served, "only documented: \(documented.subtracting(served)); only served: \(served.subtracting(documented))")
            #expect(documented.contains("DELETE /api/dialogs/{dialogId}/members/{userId}"))
            let dialog = paths["/api/dialogs/{dialogId}"]?["get"]
            #expect(dialog?["parameters"]?.arrayValue?.first?["schema"]?["pattern"] == "^dlg_[a-z0-9]{20}$")
            #expect(dialog?["responses"]?["401"] != nil)
        }
        await h.cleanUp()
    }

    @Test("dialog and message routes refuse a request without a token with 401 before anything else")
    func routesNeedToken() async throws {
        let h = try await DaemonHarness()
        try await h.test { client in
            for path in ["/api/dialogs", "/api/dialogs/dlg_0123456789abcdefghij", "/api/messages/dialog/dlg_0123456789abcdefghij"] {
                let response = try await client.get(path)
                #expect(response.status == .unauthorized)
                #expect(response.json?["code"] == "unauthorized")
            }
        }
        await h.cleanUp()
    }
}
