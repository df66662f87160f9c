import ChatCore
import Testing

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("Update normalization")
struct UpdateNormalizerTests {
    let currentMessage = #"""
        {"tenantId":"tnt_default","userId":"usr_bbbbbbbb","entityId":"msg_aaaaaaaaaaaaaaaaaaaa",
         "eventId":"evt_0123456789abcdef0123456789abcdef","sourceEventType":"message.create",
         "updateType":"update.message","published":false,"createdAt":"1763551369397.648200",
         "data":{"dialog":{"dialogId":"dlg_bbbbbbbbbbbbbbbbbbbb","tenantId":"tnt_default"},
                 "message":{"messageId":"msg_aaaaaaaaaaaaaaaaaaaa","dialogId":"dlg_bbbbbbbbbbbbbbbbbbbb",
                            "senderId":"usr_aaaaaaaa","type":"internal.text","content":"Hello!","meta":{}},
                 "context":{"version":4,"uiTarget":"messages.list","dialogId":"dlg_bbbbbbbbbbbbbbbbbbbb",
                            "entityId":"msg_aaaaaaaaaaaaaaaaaaaa","includedSections":["dialog","message"],
                            "updatedFields":["message"]}}}
        """#

    @Test("a current-generation message.create normalizes and becomes chat3:update then message:new")
    func currentMessageCreate() throws {
        let update = try UpdateNormalizer.normalize(routingKey: "update.dialog.user.usr_bbbbbbbb.message",
                                                    body: bytes(currentMessage)).get()
        #expect(update.generation == .current)
        #expect(update.eventType == "message.create")
        #expect(update.dialogId == "dlg_bbbbbbbbbbbbbbbbbbbb")
        #expect(update.userId == "usr_bbbbbbbb")
        #expect(update.tenantId == "tnt_default")
        let emissions = UpdateEvents.emissions(for: update)
        #expect(emissions.map(\.event) == ["chat3:update", "message:new"])
        #expect(emissions[1].payload["content"] == "Hello!")
        #expect(emissions[0].payload["dialogId"] == "dlg_bbbbbbbbbbbbbbbbbbbb")
        #expect(emissions[0].payload["sourceEventType"] == "message.create")
    }

    @Test("a seed-era update normalizes from its top-level fields")
    func legacy() throws {
        let body = #"{"eventType":"message.status.update","dialogId":"dlg_x","entityId":"msg_y","userId":"usr_aaaaaaaa","data":{"message":{"statusUpdate":{"status":"read"}}}}"#
        let update = try UpdateNormalizer.normalize(routingKey: "user.usr_aaaaaaaa.messageupdate", body: bytes(body)).get()
        #expect(update.generation == .legacy)
        #expect(update.updateType == "update.message")
        #expect(update.dialogId == "dlg_x")
        #expect(UpdateEvents.emissions(for: update).map(\.event) == ["chat3:update", "message:update"])
    }

    @Test("typing becomes typing:update with the typist, and other kinds map to their events")
    func mapping() throws {
        let typing = #"{"userId":"usr_bbbbbbbb","entityId":"dlg_d","sourceEventType":"dialog.typing","updateType":"update.dialog","data":{"typing":{"userId":"usr_aaaaaaaa","expiresInMs":5000,"userInfo":{"meta":{"name":"Ann"}}},"context":{"dialogId":"dlg_d"}}}"#
        let update = try UpdateNormalizer.normalize(routingKey: "update.dialog.user.usr_bbbbbbbb.dialog", body: bytes(typing)).get()
        let emissions = UpdateEvents.emissions(for: update)
        #expect(emissions.map(\.event) == ["chat3:update", "typing:update"])
        #expect(emissions[1].payload == ["dialogId": "dlg_d", "userId": "usr_aaaaaaaa", "expiresInMs": 5000, "userName": "Ann"])

        let member = #"{"userId":"u","entityId":"dlg_d","sourceEventType":"dialog.member.add","updateType":"update.dialog","data":{}}"#
        let memberUpdate = try UpdateNormalizer.normalize(routingKey: "update.dialog.user.u.dialog", body: bytes(member)).get()
        #expect(memberUpdate.dialogId == "dlg_d")
        #expect(UpdateEvents.emissions(for: memberUpdate).last?.event == "dialog:update")

        let user = #"{"userId":"u","entityId":"u","sourceEventType":"user.changed","updateType":"update.user","data":{}}"#
        let userUpdate = try UpdateNormalizer.normalize(routingKey: "update.user.user.u.user", body: bytes(user)).get()
        #expect(UpdateEvents.emissions(for: userUpdate).last?.event == "user:update")
    }

    @Test("malformed deliveries are errors, not crashes", arguments: [
        "", "null", "[1,2]", "{", "\"text\"", #"{"data":{}}"#, #"{"sourceEventType":"message.create"}"#,
    ])
    func malformed(body: String) {
        let result = UpdateNormalizer.normalize(routingKey: "update.dialog.user", body: bytes(body))
        if case .success = result { Issue.record("accepted \(body)") }
    }

    @Test("the user comes from the routing key when the payload lacks it")
    func userFromKey() throws {
        let body = #"{"eventType":"dialog.create","dialogId":"dlg_d","data":{}}"#
        let update = try UpdateNormalizer.normalize(routingKey: "user.usr_cccccccc.dialogupdate", body: bytes(body)).get()
        #expect(update.userId == "usr_cccccccc")
    }

    @Test("the duplicate filter passes a key once within the window and again after it")
    func duplicates() {
        var filter = DuplicateFilter(window: 10, capacity: 3)
        var results: [Bool] = []
        results.append(filter.firstSighting(of: "a", at: 0))
        results.append(filter.firstSighting(of: "a", at: 5))
        results.append(filter.firstSighting(of: "a", at: 20))
        for (index, key) in ["b", "c", "d", "e"].enumerated() { results.append(filter.firstSighting(of: key, at: 21 + Double(index))) }
        // Capacity 3: "a" was pushed out, so it passes again.
        results.append(filter.firstSighting(of: "a", at: 25))
        #expect(results == [true, false, true, true, true, true, true, true])
    }
}
