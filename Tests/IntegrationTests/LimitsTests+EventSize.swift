import ChatCore
import Foundation
import Testing
import TestSupport

/// `socketio.max_event_bytes`: one Socket.IO event's size, well below Engine.IO's `max_payload`.
extension LimitsTests {
    @Test("a Socket.IO event over socketio.max_event_bytes (within max_payload) is acked payload_too_large if asked, else dropped, both counted; the socket stays connected and its next events are answered, another user's socket too")
    func eventSize() async throws {
        let fixture = try await Fixture.start(config: "[socketio]\nmax_event_bytes = 4096\n", users: 2)
        defer { fixture.directory.remove() }
        let run = try await fixture.misbehave(["big-event", "--token", fixture.tokens[0],
                                               "--bystander-token", fixture.tokens[1], "--size", "20000", "--under", "4000"],
                                              name: "big-event")
        let result = run.result
        #expect(result["big_ack"] == ["ok": false, "code": "payload_too_large", "message": "Event over 4096 bytes"],
                "\(result)")
        // Not joined to the dialog: the answer an ordinary typing:stop gets here, so the event was handled.
        let handled: JSONValue = ["ok": false, "code": "forbidden"]
        #expect(result["small_ack"] == handled, "\(result)")
        // 4000 bytes of padding plus the event's name and dialog id: just under 4096.
        #expect(result["under_ack"] == handled, "an event under the limit is handled: \(result)")
        #expect(result["connected"] == true, "\(result)")
        #expect(result["bystander"] == [handled, handled], "\(result)")
        #expect(result["bystander_connected"] == true, "\(result)")
        #expect(run.bystanderOK)
        #expect(run.during < max(1.0, run.before * 2), "bystander \(run.before)s → \(run.during)s")
        // The acked one and the dropped one.
        #expect(try await fixture.limitHits("socket_event_size") == 2)
        #expect(try await fixture.limitHits("socket_event_rate") == 0)
        #expect(await fixture.chatd.service.stop() == 0)
    }
}
