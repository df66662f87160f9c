import ChatCore
import Testing
@testable import Chat3Sim

@Suite struct HookTests {
    @Test func theRequestLogRecordsMethodAndPathOfEveryCall() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        _ = await fixture.call("GET", "/api/dialogs?limit=5")
        _ = await fixture.call("POST", "/api/users", ["userId": "carl"])
        let log = try await fixture.data("GET", "/_sim/requests")
        #expect(log.arrayValue?.map { [$0["method"]!, $0["path"]!] } == [
            ["GET", "/api/dialogs"], ["POST", "/api/users"], ["GET", "/_sim/requests"],
        ])
        #expect(log.arrayValue?.first?["query"] == "limit=5")
    }

    @Test func resetForgetsStateLogsAndUpdates() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        _ = try await fixture.createDialog(["alice"])
        await fixture.sim.flushUpdates()
        #expect(try await fixture.data("GET", "/_sim/updates").arrayValue?.isEmpty == false)
        #expect(await fixture.call("POST", "/_sim/reset").status == 200)
        #expect(try await fixture.data("GET", "/api/dialogs") == [])
        #expect(try await fixture.data("GET", "/_sim/updates") == [])
        // The reset cleared the log: what remains is the three calls made since.
        #expect(try await fixture.data("GET", "/_sim/requests").arrayValue?.count == 3)
    }

    @Test func simUpdatesShowsRoutingKeysHeadersAndParsedBodies() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        _ = await fixture.call("POST", "/api/users", ["userId": "carl"])
        _ = await fixture.call("POST", "/_sim/flush")
        let updates = try await fixture.data("GET", "/_sim/updates")
        let first = try #require(updates.arrayValue?.first)
        #expect(first["routingKey"] == "update.user.user.carl.user")
        #expect(first["headers"]?["sourceEventType"] == "user.add")
        #expect(first["body"]?["userId"] == "carl")
    }

    @Test func anArmedFailureAnswers500ForTheGivenCountThenRecovers() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        _ = await fixture.call("POST", "/_sim/fail", ["status": 503, "count": 2, "path": "/api/dialogs"])
        #expect(await fixture.call("GET", "/api/users").status == 200)
        let failed = await fixture.call("GET", "/api/dialogs")
        #expect(failed.status == 503)
        #expect(failed.json == ["error": "Service Unavailable", "message": "Simulated failure"])
        #expect(await fixture.call("POST", "/api/dialogs", [:]).status == 503)
        #expect(await fixture.call("GET", "/api/dialogs").status == 200)

        _ = await fixture.call("POST", "/_sim/fail", [:])
        #expect(await fixture.call("GET", "/api/users").status == 500)
        #expect(await fixture.call("GET", "/api/users").status == 500)
        _ = await fixture.call("DELETE", "/_sim/fail")
        #expect(await fixture.call("GET", "/api/users").status == 200)
    }

    @Test func aHangDelaysTheAnswer() async throws {
        let fixture = try await SimFixture()
        defer { Task { await fixture.stop() } }
        _ = await fixture.call("POST", "/_sim/fail", ["hangMs": 300, "count": 1])
        let clock = ContinuousClock()
        let start = clock.now
        let response = await fixture.call("GET", "/api/dialogs")
        #expect(response.status == 200)
        #expect(clock.now - start >= .milliseconds(300))
    }
}
