import ChatCore
import Crypto
import Foundation

/// Generates, hashes and compares one-time codes.
///
/// Codes are drawn uniformly from the kernel's CSPRNG. Only an HMAC of the code is stored, keyed by
/// a server secret, so a copy of the database alone does not reveal codes even though the space of
/// 4-digit codes is tiny. Comparison runs in constant time.
public struct OneTimeCode: Sendable {
    private let key: SymmetricKey
    public let length: Int

    public init(serverSecret: String, length: Int) {
        // Derive a dedicated key so the JWT secret itself never hashes codes.
        let derived = HMAC<SHA256>.authenticationCode(for: Data("chatd one-time code key".utf8),
                                                      using: SymmetricKey(data: Data(serverSecret.utf8)))
        key = SymmetricKey(data: Data(derived))
        self.length = length
    }

    public func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        var upper: UInt64 = 1
        for _ in 0..<length { upper *= 10 }
        let value = UInt64.random(in: 0..<upper, using: &generator)
        let digits = String(value)
        return String(repeating: "0", count: length - digits.count) + digits
    }

    /// The stored form of a code, bound to the user so equal codes of two users differ.
    public func hash(_ code: String, userId: UserID) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(userId.rawValue):\(code)".utf8), using: key)
        return Data(mac).map { String(format: "%02x", $0) }.joined()
    }

    public func matches(_ code: String, userId: UserID, storedHash: String) -> Bool {
        Self.constantTimeEquals(hash(code, userId: userId), storedHash)
    }

    public func isWellFormed(_ code: String) -> Bool {
        code.count == length && code.allSatisfy { $0.isASCII && $0.isNumber }
    }

    static func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
        let a = Array(lhs.utf8), b = Array(rhs.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<a.count { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
