import Foundation

/// Whether a user may log in and use the API.
public enum UserStatus: String, Codable, Sendable, CaseIterable {
    case active
    case disabled
}

/// A person who logs in with a phone number. Identified by `userId` everywhere (Chat3, JWT, sockets).
public struct User: Codable, Sendable, Equatable {
    public var userId: UserID
    public var phone: Phone
    public var name: UserName
    public var status: UserStatus
    public var createdAt: Date
    public var lastActiveAt: Date?

    public init(userId: UserID, phone: Phone, name: UserName, status: UserStatus = .active,
                createdAt: Date, lastActiveAt: Date? = nil) {
        self.userId = userId
        self.phone = phone
        self.name = name
        self.status = status
        self.createdAt = createdAt
        self.lastActiveAt = lastActiveAt
    }
}

/// The one-time code waiting to be verified for a user. Only the code's hash is ever kept.
public struct PendingVerification: Codable, Sendable, Equatable {
    public var codeHash: String
    public var expiresAt: Date
    public var attempts: Int
    public var sentAt: Date

    public init(codeHash: String, expiresAt: Date, attempts: Int = 0, sentAt: Date) {
        self.codeHash = codeHash
        self.expiresAt = expiresAt
        self.attempts = attempts
        self.sentAt = sentAt
    }
}
