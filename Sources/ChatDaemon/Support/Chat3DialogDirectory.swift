import ChatApp
import Chat3Client
import ChatCore

/// Chat3 answers the conversation rules' questions (membership through the client's short cache).
extension Chat3Client: DialogDirectory {
    public func dialog(ofMessage message: MessageID) async throws -> DialogID {
        try await dialogOfMessage(message)
    }

    public func visibility(of dialog: DialogID, to user: UserID) async throws -> DialogVisibility {
        guard let seen = try await userDialog(of: user, dialog: dialog) else { return .hidden }
        return .visible(creator: DialogRoutes.creator(seen.meta))
    }
}
