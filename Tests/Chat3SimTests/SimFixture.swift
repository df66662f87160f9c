import ChatCore
import Foundation
@testable import Chat3Sim

/// An in-process simulator with an in-memory publisher and no publish delay.
struct SimFixture {
    static let key = "chat3_test_key"

    let sim: Chat3Simulator
    let recorder: RecordingUpdatePublisher

    init(generation: UpdateGeneration = .current, counterUpdates: Bool = false) async throws {
        recorder = RecordingUpdatePublisher()
        sim = Chat3Simulator(
            configuration: Chat3SimConfiguration(port: 0, apiKey: Self.key, generation: generation,
                                                 publishDelay: .zero, counterUpdates: counterUpdates),
            publisher: recorder)
        try await sim.start()
    }

    func call(_ method: String, _ target: String, _ json: JSONValue? = nil, key: String? = SimFixture.key,
              tenant: String? = nil) async -> SimResponse {
        await sim.handle(SimRequest(method, target, apiKey: key, tenant: tenant, json: json))
    }

    /// The `data` of a successful JSON response.
    func data(_ method: String, _ target: String, _ json: JSONValue? = nil) async throws -> JSONValue {
        let response = await call(method, target, json)
        guard (200..<300).contains(response.status), let data = response.json?["data"] else {
            throw FixtureError.unexpected(response.status, response.text)
        }
        return data
    }

    func createDialog(_ members: [String], meta: JSONValue = [:]) async throws -> String {
        let data = try await data("POST", "/api/dialogs",
                                  ["members": .array(members.map { ["userId": .string($0)] }), "meta": meta])
        return data["dialogId"]!.stringValue!
    }

    func sendMessage(_ dialogId: String, from sender: String, _ content: String) async throws -> String {
        let data = try await data("POST", "/api/dialogs/\(dialogId)/messages",
                                  ["senderId": .string(sender), "content": .string(content)])
        return data["messageId"]!.stringValue!
    }

    /// Updates published since the last call, after the queue drains.
    func takeUpdates() async -> [PublishedUpdate] {
        await sim.flushUpdates()
        let updates = await recorder.published
        await recorder.clear()
        return updates
    }

    func stop() async { await sim.shutdown() }
}

enum FixtureError: Error {
    case unexpected(Int, String)
}

extension PublishedUpdate {
    var body: JSONValue { json ?? .null }
    var recipient: String { body["userId"]?.stringValue ?? "" }
    var sourceEventType: String { body["sourceEventType"]?.stringValue ?? body["eventType"]?.stringValue ?? "" }
}

/// `"1763551369397.648200"`: digits, a dot, exactly six decimals.
func isSixDecimalTimestamp(_ value: JSONValue?) -> Bool {
    guard let text = value?.stringValue else { return false }
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    return parts.count == 2 && parts[0].count >= 13 && parts[1].count == 6
        && parts.allSatisfy { $0.allSatisfy(\.isNumber) }
}
