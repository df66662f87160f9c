import ChatCore
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
@testable import Chat3Sim

/// Runs the simulator on an ephemeral port for the duration of `body`.
func withLiveSimulator(publisher: any UpdatePublishing = RecordingUpdatePublisher(),
                       exchange: String = "chat3_updates",
                       _ body: @Sendable (Chat3Simulator, URL) async throws -> Void) async throws {
    let sim = Chat3Simulator(
        configuration: Chat3SimConfiguration(port: 0, apiKey: SimFixture.key, exchange: exchange, publishDelay: .zero),
        publisher: publisher)
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            try await sim.run(handleSignals: false) { port in
                continuation.yield(port)
                continuation.finish()
            }
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw FixtureError.unexpected(0, "server did not start") }
        do {
            try await body(sim, URL(string: "http://127.0.0.1:\(port)")!)
        } catch {
            group.cancelAll()
            throw error
        }
        group.cancelAll()
    }
}

func httpCall(_ base: URL, _ method: String, _ path: String, key: String? = SimFixture.key,
              json: JSONValue? = nil) async throws -> (status: Int, body: Data, contentType: String?) {
    var request = URLRequest(url: URL(string: base.absoluteString + path)!)
    request.httpMethod = method
    if let key { request.setValue(key, forHTTPHeaderField: "X-API-Key") }
    if let json {
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(json.serialized().utf8)
    }
    let (data, response) = try await URLSession.shared.data(for: request)
    let http = response as! HTTPURLResponse
    return (http.statusCode, data, http.value(forHTTPHeaderField: "Content-Type"))
}

@Suite struct HTTPServerTests {
    @Test func theServerAnswersOverRealHTTPWithJSONAndAuthErrors() async throws {
        try await withLiveSimulator { _, base in
            let health = try await httpCall(base, "GET", "/health", key: nil)
            #expect(health.status == 200)
            #expect(health.contentType?.hasPrefix("application/json") == true)

            let unauthorized = try await httpCall(base, "GET", "/api/dialogs", key: nil)
            #expect(unauthorized.status == 401)
            #expect(try JSONValue.parse(unauthorized.body)["error"] == "Unauthorized")

            let created = try await httpCall(base, "POST", "/api/dialogs",
                                             json: ["members": [["userId": "alice"], ["userId": "bob"]]])
            #expect(created.status == 201)
            let dialogId = try #require(try JSONValue.parse(created.body)["data"]?["dialogId"]?.stringValue)

            let filtered = try await httpCall(base, "GET", "/api/dialogs?filter=(member,eq,alice)%26(dialogId,eq,\(dialogId))")
            #expect(try JSONValue.parse(filtered.body)["pagination"]?["total"] == 1)

            let unknown = try await httpCall(base, "GET", "/api/nowhere")
            #expect(unknown.status == 404)
            #expect(unknown.contentType?.hasPrefix("text/html") == true)
        }
    }

    @Test func updatesOfAnHTTPWriteAreRecorded() async throws {
        let recorder = RecordingUpdatePublisher()
        try await withLiveSimulator(publisher: recorder) { sim, base in
            let created = try await httpCall(base, "POST", "/api/users", json: ["userId": "carl"])
            #expect(created.status == 201)
            await sim.flushUpdates()
            #expect(await recorder.published.map(\.routingKey) == ["update.user.user.carl.user"])
        }
    }

    @Test func theRequestLogSeesHTTPRequests() async throws {
        try await withLiveSimulator { _, base in
            _ = try await httpCall(base, "GET", "/api/users/carl")
            let log = try JSONValue.parse(try await httpCall(base, "GET", "/_sim/requests").body)
            #expect(log["data"]?.arrayValue?.first?["path"] == "/api/users/carl")
        }
    }
}
