import ChatCore
import ChatDaemon
import Foundation
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

    @Test("a known path asked with a method it does not serve answers 405 with Allow, before authentication; unknown paths stay 404")
    func methodNotAllowed() async throws {
        let h = try await DaemonHarness()
        try await h.test { client in
            let cases: [(HTTPRequest.Method, String, String)] = [
                (.put, "/api/dialogs", "GET, POST"),
                (.patch, "/api/messages/dialog/dlg_0123456789abcdefghij", "GET, POST"),
                (.delete, "/api/dialog/dlg_0123456789abcdefghij/messages", "GET, POST"),
                (.post, "/api/users/me", "GET"),
                (.get, "/api/dialogs/dlg_0123456789abcdefghij/unread", "PATCH"),
                (.delete, "/health", "GET"),
                (.post, "/metrics", "GET"),
                (.get, "/api/auth/verify-code", "POST"),
            ]
            for (method, path, allow) in cases {
                let response = try await client.execute(uri: path, method: method)
                #expect(response.status == .methodNotAllowed, "\(method) \(path): \(response.status)")
                #expect(response.headers[.allow] == allow, "\(method) \(path)")
                #expect(response.json?["code"] == "method_not_allowed")
                #expect(response.json?["success"] == false)
            }
            for path in ["/api/nothing-here", "/api/dialogs/dlg_0123456789abcdefghij/nothing", "/api/users/me/extra"] {
                let response = try await client.execute(uri: path, method: .put)
                #expect(response.status == .notFound, "\(path): \(response.status)")
                #expect(response.json?["code"] == "not_found")
            }
        }
        await h.cleanUp()
    }

    @Test("the document states the rules the routes enforce: its phone and name patterns agree with the validators, enums, limits, media needing meta.url, and /metrics as text")
    func documentStatesConstraints() async throws {
        let h = try await DaemonHarness()
        try await h.test { client in
            let document = try #require(try await client.get("/api/openapi.json").json)
            let paths = try #require(document["paths"])
            func body(_ path: String, _ method: String) -> JSONValue? {
                paths[path]?[method]?["requestBody"]?["content"]?["application/json"]?["schema"]
            }
            func matches(_ pattern: String, _ text: String) -> Bool {
                text.range(of: pattern, options: .regularExpression) != nil
            }

            // Every phone the pattern admits is one the server accepts, and the usual refusals are outside it.
            let phone = try #require(body("/api/auth/request-code", "post")?["properties"]?["phone"]?["pattern"]?.stringValue)
            for sample in ["79001234567", "+7 (900) 123-45-67", "8 900 123 45 67", "+44.20.7946.0958", "0", "", "   ",
                           "+7 900", "07900123456", "7900123456x", "1234567890123456", "++79001234567"] {
                let accepted = (try? Phone(normalizing: sample)) != nil
                if matches(phone, sample) { #expect(accepted, "the pattern admits \(sample) but the server refuses it") }
            }
            #expect(matches(phone, "+7 (900) 123-45-67") && !matches(phone, "") && !matches(phone, "0"))

            let name = try #require(body("/api/auth/request-code", "post")?["properties"]?["name"])
            let namePattern = try #require(name["pattern"]?.stringValue)
            for sample in ["Ann", " Ann ", "", "   ", "A\u{7}nn", "Анна", "a\tb"] {
                let accepted = (try? UserName(validating: sample)) != nil
                if matches(namePattern, sample) { #expect(accepted, "the pattern admits \(sample.debugDescription)") }
            }
            #expect(!matches(namePattern, "") && !matches(namePattern, "  ") && matches(namePattern, "Анна"))
            #expect(name["maxLength"] == 100)

            let status = paths["/api/messages/{messageId}/status/{status}"]?["post"]?["parameters"]?.arrayValue?
                .first { $0["name"] == "status" }
            #expect(status?["schema"]?["enum"] == ["read", "delivered"])
            let send = try #require(body("/api/dialog/{dialogId}/messages", "post"))
            #expect(send == body("/api/messages/dialog/{dialogId}", "post"))
            #expect(send["properties"]?["content"]?["maxLength"] == 4096)
            let media = send["anyOf"]?.arrayValue?.first { $0["required"] == ["type", "meta"] }
            #expect(media?["properties"]?["meta"]?["required"] == ["url"], "\(send)")
            #expect(body("/api/dialogs", "post")?["properties"]?["memberIds"]?["maxItems"] == 100)
            #expect(send["properties"]?["meta"]?["propertyNames"]?["pattern"] == "^[A-Za-z0-9_]{1,100}$")
            let search = paths["/api/users"]?["get"]?["parameters"]?.arrayValue?.first { $0["name"] == "search" }
            let searchPattern = try #require(search?["schema"]?["pattern"]?.stringValue)
            #expect(matches(searchPattern, "") && matches(searchPattern, "an") && !matches(searchPattern, "a")
                && !matches(searchPattern, " a ") && !matches(searchPattern, "a\u{1}b"))
            let limit = paths["/api/dialogs"]?["get"]?["parameters"]?.arrayValue?.first { $0["name"] == "limit" }
            #expect(limit?["schema"]?["maximum"] == 100)
            #expect(paths["/api/dialogs/{dialogId}/unread"]?["patch"]?["requestBody"]?["required"] == false)

            let metrics = paths["/metrics"]?["get"]?["responses"]?["200"]?["content"]
            #expect(metrics?["text/plain"] != nil && metrics?["application/json"] == nil, "\(metrics ?? .null)")
            // Every operation with a body documents 400 for bad input.
            for (path, operations) in paths.objectValue ?? [:] {
                for (method, operation) in operations.objectValue ?? [:] where operation["requestBody"] != nil {
                    #expect(operation["responses"]?["400"] != nil, "\(method) \(path)")
                }
            }
        }
        await h.cleanUp()
    }
}
