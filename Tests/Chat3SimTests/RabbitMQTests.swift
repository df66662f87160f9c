import ChatCore
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
@testable import Chat3Sim

/// The broker's management HTTP API on 127.0.0.1:15672 (guest/guest), used to declare, bind and read a queue
/// without depending on a particular AMQP consumer implementation.
struct RabbitManagement {
    let base = "http://127.0.0.1:15672/api"

    @discardableResult
    func call(_ method: String, _ path: String, _ json: JSONValue? = nil) async throws -> JSONValue? {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        request.setValue("Basic " + Data("guest:guest".utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
        if let json {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(json.serialized().utf8)
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as! HTTPURLResponse).statusCode
        guard (200..<300).contains(status) else {
            throw FixtureError.unexpected(status, String(decoding: data, as: UTF8.self))
        }
        return data.isEmpty ? nil : try JSONValue.parse(data)
    }
}

@Suite struct RabbitMQTests {
    @Test func aQueueBoundToTheUpdatesExchangeReceivesTheUpdate() async throws {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let exchange = "chat3_sim_test_\(suffix)"
        let queue = "chat3_sim_test_\(suffix)_bob"
        let management = RabbitManagement()
        let publisher = try AMQPUpdatePublisher(url: "amqp://guest:guest@127.0.0.1:5672/", logger: .init(label: "test"))
        let sim = Chat3Simulator(configuration: Chat3SimConfiguration(apiKey: "k", exchange: exchange,
                                                                      publishDelay: .zero),
                                 publisher: publisher)
        try await sim.start()
        do {
            try await management.call("PUT", "/queues/%2F/\(queue)", ["durable": false, "auto_delete": false])
            try await management.call("POST", "/bindings/%2F/e/\(exchange)/q/\(queue)",
                                      ["routing_key": "update.*.*.bob.*"])
            let response = await sim.handle(SimRequest("POST", "/api/dialogs", apiKey: "k",
                                                        json: ["members": [["userId": "alice"], ["userId": "bob"]]]))
            #expect(response.status == 201)
            let dialogId = response.json?["data"]?["dialogId"]?.stringValue
            await sim.flushUpdates()

            var messages: [JSONValue] = []
            for _ in 0..<50 where messages.count < 3 {
                let got = try await management.call("POST", "/queues/%2F/\(queue)/get",
                                                    ["count": 10, "ackmode": "ack_requeue_false", "encoding": "auto"])
                messages += got?.arrayValue ?? []
                if messages.count < 3 { try await Task.sleep(for: .milliseconds(100)) }
            }
            // bob receives both member adds and the dialog create; alice's copies are not routed here.
            #expect(messages.map { $0["routing_key"]?.stringValue ?? "" } ==
                    Array(repeating: "update.dialog.user.bob.dialog", count: 3))
            let payload = try JSONValue.parse(messages.last?["payload"]?.stringValue ?? "")
            #expect(payload["sourceEventType"] == "dialog.create")
            #expect(payload["data"]?["context"]?["dialogId"]?.stringValue == dialogId)
            #expect(messages.first?["properties"]?["delivery_mode"] == 2)
            #expect(messages.first?["properties"]?["headers"]?["userId"] == "bob")
        } catch {
            Issue.record(error)
        }
        try? await management.call("DELETE", "/queues/%2F/\(queue)")
        try? await management.call("DELETE", "/exchanges/%2F/\(exchange)")
        await sim.shutdown()
    }
}
