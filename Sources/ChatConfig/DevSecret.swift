import Foundation

/// Under `--dev`, the JWT secret is generated once and kept (mode 0600) in the state directory,
/// so restarts do not log everyone out.
public enum DevSecret {
    public static let fileName = "dev-jwt-secret"

    public static func loadOrCreate(stateDirectory: String) throws -> String {
        let path = (stateDirectory as NSString).appendingPathComponent(fileName)
        if let existing = try? String(contentsOfFile: path, encoding: .utf8) {
            let trimmed = existing.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.utf8.count >= 32 { return trimmed }
        }
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let secret = bytes.map { String(format: "%02x", $0) }.joined()
        // Create with 0600 from the start so the secret is never readable by others, even briefly.
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw CocoaError(.fileWriteNoPermission) }
        defer { close(descriptor) }
        let data = Array(secret.utf8)
        guard write(descriptor, data, data.count) == data.count else { throw CocoaError(.fileWriteUnknown) }
        fchmod(descriptor, 0o600)
        return secret
    }
}
