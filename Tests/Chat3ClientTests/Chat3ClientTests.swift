import Chat3Client
import ChatCore
import Foundation
import Synchronization
import Testing

@Suite("Chat3 client against chat3-sim", .serialized)
struct Chat3ClientTests {
    let alice = UserID.make("alice001")
    let bob = UserID.make("bob00002")
    let carol = UserID.make("carol003")

    @Test("every operation chatd needs round-trips through the emulator with typed results")
    func roundTrip() async throws {
        let live = try await LiveSimulator.start()
        let client = live.client()
        #expect(try await client.createUser(alice) == true)
        #expect(try await client.createUser(alice) == false, "409 on an existing user is fine")

        let dialog = try await client.createDialog(members: [alice, bob], meta: ["name": "Team", "createdBy": .string(alice.rawValue)])
        #expect(dialog.meta["createdBy"] == .string(alice.rawValue))
        #expect(try await client.dialog(dialog.dialogId).meta["name"] == "Team")
        let listed = try await client.userDialogs(of: alice, page: 1, limit: 10)
        #expect(listed.items.map(\.dialogId) == [dialog.dialogId])
        #expect(listed.pagination == Chat3Pagination(page: 1, limit: 10, total: 1, pages: 1))
        #expect(try await client.userDialog(of: bob, dialog: dialog.dialogId)?.meta["name"] == "Team")
        #expect(try await client.userDialog(of: carol, dialog: dialog.dialogId) == nil)
        #expect(try await client.isMember(bob, of: dialog.dialogId))
        #expect(try await !client.isMember(carol, of: dialog.dialogId))

        #expect(try await client.addMember(carol, to: dialog.dialogId) == true)
        #expect(try await client.addMember(carol, to: dialog.dialogId) == false)
        #expect(try await client.members(of: dialog.dialogId, page: 1, limit: 10).items.map(\.userId)
            == [alice.rawValue, bob.rawValue, carol.rawValue])
        #expect(try await client.typing(bob, in: dialog.dialogId) == 5000)

        let message = try await client.createMessage(in: dialog.dialogId, sender: alice, content: "hello", type: .text, meta: [:])
        #expect(message.dialogId == dialog.dialogId)
        let image = try await client.createMessage(in: dialog.dialogId, sender: bob, content: "pic", type: .image,
                                                   meta: ["url": "https://example.org/a.png"])
        #expect(image.raw["type"] == "internal.image")
        let page = try await client.messages(of: dialog.dialogId, for: bob, page: 1, limit: 10)
        #expect(page.items.map(\.messageId) == [image.messageId, message.messageId], "newest first")
        #expect(try await client.message(message.messageId).senderId == alice.rawValue)
        #expect(try await client.dialogOfMessage(message.messageId) == dialog.dialogId)

        let status = try await client.setStatus(.read, message: message.messageId, dialog: dialog.dialogId, user: bob)
        #expect(status["status"] == "read")
        #expect(status["_id"] == nil, "Mongo internals are dropped")
        #expect(try await client.setReaction("👍", message: message.messageId, dialog: dialog.dialogId, user: bob) == true)
        #expect(try await client.setReaction("👍", message: message.messageId, dialog: dialog.dialogId, user: bob) == false)
        try await client.unsetReaction("👍", message: message.messageId, dialog: dialog.dialogId, user: bob)
        await #expect(throws: Chat3Error.notFound) {
            try await client.unsetReaction("👍", message: message.messageId, dialog: dialog.dialogId, user: bob)
        }

        try await client.removeMember(carol, from: dialog.dialogId)
        #expect(try await !client.isMember(carol, of: dialog.dialogId), "a removal forgets the cached membership")
        await #expect(throws: Chat3Error.forbidden) {
            try await client.messages(of: dialog.dialogId, for: carol, page: 1, limit: 10)
        }
        try await client.deleteDialog(dialog.dialogId)
        #expect(try await !client.isMember(alice, of: dialog.dialogId), "a deletion forgets cached memberships")
        await #expect(throws: Chat3Error.notFound) { try await client.dialog(dialog.dialogId) }
        #expect(await client.ping())
        await live.stop()
    }

    @Test("requests carry the configured tenant, and a wrong key is unauthorized, not a caller error")
    func keyAndTenant() async throws {
        let live = try await LiveSimulator.start()
        _ = try await live.client().userDialogs(of: alice, page: 1, limit: 5)
        let log = await live.hook("GET", "/_sim/requests").json?["data"]?.arrayValue ?? []
        #expect(log.first?["tenantId"] == "tnt_default")
        await #expect(throws: Chat3Error.unauthorized) {
            try await live.client(key: "wrong").userDialogs(of: alice, page: 1, limit: 5)
        }
        await #expect(throws: Chat3Error.unauthorized) {
            try await live.client(key: nil).createUser(alice)
        }
        await live.stop()
    }

    @Test("a stopped emulator answers unavailable within the timeout, and the client recovers by itself when it returns")
    func outageAndRecovery() async throws {
        let first = try await LiveSimulator.start()
        let port = first.port
        let client = first.client(requestTimeout: 3)
        #expect(try await client.userDialogs(of: alice, page: 1, limit: 5).items.isEmpty)
        await first.stop()

        let clock = ContinuousClock()
        for _ in 0..<5 {
            let started = clock.now
            await #expect(throws: Chat3Error.unavailable) { try await client.userDialogs(of: alice, page: 1, limit: 5) }
            #expect(clock.now - started < .seconds(4))
        }
        #expect(client.breaker.state != .closed, "consecutive failures opened the breaker")
        let fast = clock.now
        await #expect(throws: Chat3Error.unavailable) { try await client.createUser(alice) }
        #expect(clock.now - fast < .milliseconds(500), "an open breaker answers at once")
        #expect(await !client.ping())

        let second = try await LiveSimulator.start(port: port)
        var recovered = false
        let deadline = clock.now + .seconds(15)
        while clock.now < deadline {
            if (try? await client.userDialogs(of: alice, page: 1, limit: 5)) != nil { recovered = true; break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(recovered)
        #expect(client.breaker.state == .closed)
        await second.stop()
    }

    @Test("a hanging emulator yields timeout after the request timeout instead of hanging")
    func hangIsTimeout() async throws {
        let live = try await LiveSimulator.start()
        let client = live.client(requestTimeout: 1)
        await live.hook("POST", "/_sim/fail", ["hangMs": 3000, "count": 1])
        let clock = ContinuousClock()
        let started = clock.now
        await #expect(throws: Chat3Error.timeout) { try await client.userDialogs(of: alice, page: 1, limit: 5) }
        let elapsed = clock.now - started
        #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(4), "\(elapsed)")
        // The next call is fine. With a 1 s timeout a loaded machine can time out a healthy call too
        // (and a few of those open the breaker until its probe), so tries for up to 15 s: a client the
        // hang broke would fail them all.
        var next: Bool?
        let retryUntil = clock.now + .seconds(15)
        while next == nil, clock.now < retryUntil {
            next = try? await client.userDialogs(of: alice, page: 1, limit: 5).items.isEmpty
            if next == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(next == true, "the next call is fine")
        await live.stop()
    }

    @Test("calls beyond the connection limit wait for a connection and all complete; a hanging call holds up none of them")
    func concurrentCalls() async throws {
        let live = try await LiveSimulator.start()
        // The hang outlasts the other calls by far even on a loaded machine (the whole suite runs in
        // parallel on two cores); the request timeout is longer still, so only a call that waited for the
        // hanging one could fail.
        let client = live.client(requestTimeout: 30, maxConnections: 4)
        await live.hook("POST", "/_sim/fail", ["hangMs": 20000, "count": 1, "path": "/api/dialogs"])
        let hangingDone = Mutex(false)
        let dialogId = DialogID(rawValue: "dlg_aaaaaaaaaaaaaaaaaaaa")!
        let hanging = Task {
            defer { hangingDone.withLock { $0 = true } }
            return try? await client.dialog(dialogId)
        }
        while await !live.seen().contains(where: { $0.path.hasPrefix("/api/dialogs") }) {
            try await Task.sleep(for: .milliseconds(10))
        }
        let answered = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<40 {
                group.addTask {
                    let user = UserID.make(String(format: "load%04d", index))
                    return (try? await client.userDialogs(of: user, page: 1, limit: 5)) != nil
                }
            }
            return await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(answered == 40)
        #expect(hangingDone.withLock { $0 } == false, "the other calls did not wait for the hanging one")
        await live.stop()
        _ = await hanging.value
    }

    @Test("4xx and 5xx answers become typed errors that carry nothing of Chat3's body", arguments: [
        (400, Chat3Error.badRequest(field: nil)), (403, .forbidden), (404, .notFound), (409, .conflict),
        (429, .rateLimited), (500, .server(status: 500)), (502, .server(status: 502)),
    ])
    func statusMapping(status: Int, expected: Chat3Error) async throws {
        let live = try await LiveSimulator.start()
        let client = live.client(threshold: 100)
        await live.hook("POST", "/_sim/fail", ["status": .number(Double(status)), "count": 1, "method": "POST"])
        await #expect(throws: expected) {
            try await client.createDialog(members: [alice], meta: [:])
        }
        #expect(await live.seen().count == 1, "a POST is never retried")
        await live.stop()
    }

    @Test("Chat3's validation answer is reduced to the field it names")
    func badRequestNamesField() async throws {
        let live = try await LiveSimulator.start()
        let client = live.client()
        let dialog = try await client.createDialog(members: [alice], meta: [:])
        // Chat3 accepts up to 10000 characters for text; the emulator rejects more with a Joi detail.
        await #expect(throws: Chat3Error.badRequest(field: "content")) {
            try await client.createMessage(in: dialog.dialogId, sender: alice, content: String(repeating: "x", count: 10_001),
                                           type: .text, meta: [:])
        }
        await live.stop()
    }

    @Test("an idempotent GET is retried after a 503, so one blip does not fail the call")
    func getRetried() async throws {
        let live = try await LiveSimulator.start()
        let client = live.client()
        await live.hook("POST", "/_sim/fail", ["status": 503, "count": 2, "path": "/api/users"])
        #expect(try await client.userDialogs(of: alice, page: 1, limit: 5).items.isEmpty)
        #expect(await live.seen().count == 3)
        await live.stop()
    }

    @Test("the breaker opens after consecutive 5xx answers, then answers without calling Chat3, and closes after a good probe")
    func breaker() async throws {
        let live = try await LiveSimulator.start()
        let client = live.client(threshold: 3, cooldown: .milliseconds(300))
        await live.hook("POST", "/_sim/fail", ["status": 500, "path": "/api/dialogs"])
        let dialogId = DialogID(rawValue: "dlg_aaaaaaaaaaaaaaaaaaaa")!
        await #expect(throws: Chat3Error.server(status: 500)) { try await client.dialog(dialogId) }
        #expect(client.breaker.state == .open)
        let before = await live.seen().count
        await #expect(throws: Chat3Error.unavailable) { try await client.dialog(dialogId) }
        #expect(await live.seen().count == before, "no request reached Chat3 while open")

        await live.hook("DELETE", "/_sim/fail")
        try await Task.sleep(for: .milliseconds(350))
        #expect(client.breaker.state == .halfOpen)
        await #expect(throws: Chat3Error.notFound) { try await client.dialog(dialogId) }
        #expect(client.breaker.state == .closed, "a 404 is a healthy answer")
        await live.stop()
    }

    @Test("path segments and query values are percent-encoded, filter included")
    func encoding() async throws {
        #expect(Chat3Path.encode("../a b/c?d#e%") == "%2E%2E%2Fa%20b%2Fc%3Fd%23e%25")
        #expect(Chat3Path.encode("usr_abc-1~") == "usr_abc-1~")
        #expect(Chat3Path.encode("👍") == "%F0%9F%91%8D")
        #expect(Chat3Path.make(["users", "u/1", "dialogs"], query: [("filter", "(a,eq,b)&x")])
            == "/users/u%2F1/dialogs?filter=%28a%2Ceq%2Cb%29%26x")

        let live = try await LiveSimulator.start()
        let dialogId = DialogID(rawValue: "dlg_0123456789abcdefghij")!
        _ = try await live.client().userDialog(of: alice, dialog: dialogId)
        let seen = await live.seen()
        #expect(seen.first?.path == "/api/users/usr_alice001/dialogs")
        #expect(seen.first?.query == "filter=%28dialogId%2Ceq%2Cdlg_0123456789abcdefghij%29&limit=1")
        await live.stop()
    }

    @Test("only well-formed Chat3 ids can be built", arguments: [
        ("dlg_0123456789abcdefghij", true), ("dlg_0123456789ABCDEFGHIJ", false), ("dlg_short", false),
        ("dlg_0123456789abcdefghij/..", false), ("msg_0123456789abcdefghij", false), ("", false),
    ])
    func dialogIDs(text: String, valid: Bool) {
        #expect((DialogID(rawValue: text) != nil) == valid)
        #expect((MessageID(rawValue: text.replacingOccurrences(of: "dlg_", with: "msg_")) != nil)
            == (valid || text.hasPrefix("msg_") && text.count == 24))
    }
}
