import ChatApp
import ChatCore
import Testing

/// A dialog directory in memory: dialogs with their members and creator, messages with their dialog.
private struct Directory: DialogDirectory {
    struct Unknown: Error {}

    var members: [DialogID: Set<UserID>] = [:]
    var creators: [DialogID: UserID] = [:]
    var messages: [MessageID: DialogID] = [:]

    func isMember(_ user: UserID, of dialog: DialogID) async throws -> Bool {
        members[dialog]?.contains(user) ?? false
    }

    func dialog(ofMessage message: MessageID) async throws -> DialogID {
        guard let dialog = messages[message] else { throw Unknown() }
        return dialog
    }

    func visibility(of dialog: DialogID, to user: UserID) async throws -> DialogVisibility {
        guard members[dialog]?.contains(user) == true else { return .hidden }
        return .visible(creator: creators[dialog])
    }
}

@Suite("Conversation rules")
struct ConversationsTests {
    let ann = UserID(rawValue: "usr_ann00000")!
    let bob = UserID(rawValue: "usr_bob00000")!
    let eve = UserID(rawValue: "usr_eve00000")!
    let dialog = DialogID(rawValue: "dlg_aaaaaaaaaaaaaaaaaaaa")!
    let message = MessageID(rawValue: "msg_aaaaaaaaaaaaaaaaaaaa")!

    var rules: Conversations {
        Conversations(directory: Directory(members: [dialog: [ann, bob]], creators: [dialog: ann], messages: [message: dialog]))
    }

    @Test("members pass; an outsider is told the dialog and its messages do not exist")
    func membersOnly() async throws {
        try await rules.requireMember(bob, of: dialog)
        #expect(try await rules.mayJoin(bob, dialog: dialog))
        #expect(try await rules.dialogForMember(bob, ofMessage: message) == dialog)
        await #expect(throws: ConversationRefusal.dialogNotFound) { try await rules.requireMember(eve, of: dialog) }
        #expect(try await !rules.mayJoin(eve, dialog: dialog))
        await #expect(throws: ConversationRefusal.messageNotFound) { try await rules.dialogForMember(eve, ofMessage: message) }
    }

    @Test("only the creator deletes or removes others; a member may leave; an outsider learns nothing")
    func creatorRules() async throws {
        try await rules.requireCreator(ann, of: dialog, to: .deleteDialog)
        await #expect(throws: ConversationRefusal.creatorOnly(.deleteDialog)) {
            try await rules.requireCreator(bob, of: dialog, to: .deleteDialog)
        }
        await #expect(throws: ConversationRefusal.dialogNotFound) {
            try await rules.requireCreator(eve, of: dialog, to: .deleteDialog)
        }
        try await rules.requireMayRemove(bob, from: dialog, by: bob)
        try await rules.requireMayRemove(bob, from: dialog, by: ann)
        await #expect(throws: ConversationRefusal.creatorOnly(.removeOtherMember)) {
            try await rules.requireMayRemove(ann, from: dialog, by: bob)
        }
        await #expect(throws: ConversationRefusal.dialogNotFound) { try await rules.requireMayRemove(eve, from: dialog, by: eve) }
    }

    @Test("a dialog made without a recorded creator can be deleted by no one")
    func noCreator() async {
        let rules = Conversations(directory: Directory(members: [dialog: [ann]]))
        await #expect(throws: ConversationRefusal.creatorOnly(.deleteDialog)) {
            try await rules.requireCreator(ann, of: dialog, to: .deleteDialog)
        }
    }
}
