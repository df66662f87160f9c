import Foundation

/// Reads chatd's `/metrics` until a line appears. Gauges follow events that finish after the client
/// that caused them has already moved on (a socket's close is processed after the client exits), so a
/// test asks for the state it expects and gives the daemon a deadline to reach it.
public enum MetricsProbe {
    /// Returns the last text read; the caller asserts on it, so a timeout fails with the evidence.
    @discardableResult
    public static func waitFor(_ line: String, at baseURL: String, timeoutSeconds: Double = 10) async throws -> String {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var text = ""
        repeat {
            text = try await HTTPTestClient.send("GET", "\(baseURL)/metrics").text
            if text.split(separator: "\n").contains(where: { $0 == line }) { return text }
            try await Task.sleep(for: .milliseconds(50))
        } while Date() < deadline
        return text
    }
}
