import ChatCore

/// What the conversation rules need to know of dialogs; Chat3 answers it in production (`Chat3Client`
/// conforms in ChatDaemon), a test double in tests. Errors of the backend pass through unchanged.
public protocol DialogDirectory: Sendable {
    func isMember(_ user: UserID, of dialog: DialogID) async throws -> Bool
    /// The dialog a message belongs to; throws the backend's not-found for an unknown message.
    func dialog(ofMessage message: MessageID) async throws -> DialogID
    /// Whether `user` sees the dialog, and who created it (chatd records that in the dialog's meta, as
    /// Chat3 keeps none; dialogs made elsewhere may have no creator).
    func visibility(of dialog: DialogID, to user: UserID) async throws -> DialogVisibility
}

public enum DialogVisibility: Sendable, Equatable {
    case hidden
    case visible(creator: UserID?)
}

/// Why a conversation rule refused the caller. Outsiders learn nothing: a dialog they are not in is
/// "not found", exactly as one that does not exist.
public enum ConversationRefusal: Error, Equatable, Sendable {
    case dialogNotFound
    case messageNotFound
    /// A member asked for what only the dialog's creator may do.
    case creatorOnly(CreatorAction)
}

/// What only a dialog's creator may do.
public enum CreatorAction: Sendable, Equatable {
    case deleteDialog
    case removeOtherMember
}

/// Every membership and creator rule of chatd, written once. REST handlers and Socket.IO events call
/// these before they read or write anything of a dialog; they never test membership themselves.
public struct Conversations: Sendable {
    let directory: any DialogDirectory

    public init(directory: any DialogDirectory) {
        self.directory = directory
    }

    /// Members only: anyone else gets `dialogNotFound`.
    public func requireMember(_ user: UserID, of dialog: DialogID) async throws {
        guard try await directory.isMember(user, of: dialog) else { throw ConversationRefusal.dialogNotFound }
    }

    /// Whether `user` may join the dialog's room (typing, presence): members only.
    public func mayJoin(_ user: UserID, dialog: DialogID) async throws -> Bool {
        try await directory.isMember(user, of: dialog)
    }

    /// The message's dialog, if `user` is a member of it; anyone else gets `messageNotFound`, so a
    /// message id says nothing to an outsider either.
    public func dialogForMember(_ user: UserID, ofMessage message: MessageID) async throws -> DialogID {
        let dialog = try await directory.dialog(ofMessage: message)
        guard try await directory.isMember(user, of: dialog) else { throw ConversationRefusal.messageNotFound }
        return dialog
    }

    /// What only the creator may do (members get `creatorOnly`, outsiders `dialogNotFound`).
    public func requireCreator(_ user: UserID, of dialog: DialogID, to action: CreatorAction) async throws {
        guard case .visible(let creator) = try await directory.visibility(of: dialog, to: user) else {
            throw ConversationRefusal.dialogNotFound
        }
        guard creator == user else { throw ConversationRefusal.creatorOnly(action) }
    }

    /// Removing `member` from a dialog: a member may leave; removing someone else is the creator's.
    public func requireMayRemove(_ member: UserID, from dialog: DialogID, by caller: UserID) async throws {
        if member == caller {
            try await requireMember(caller, of: dialog)
        } else {
            try await requireCreator(caller, of: dialog, to: .removeOtherMember)
        }
    }
}
