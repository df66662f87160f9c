import Crypto
import Foundation

/// Hashing helpers for values that must not be stored or compared in clear text.
public enum OTPHasher {
    public static func sha256Hex(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
