import Foundation

/// chatd's rate limits count in fixed windows aligned to the hour, so a test that counts hits to a
/// limit must not straddle the hour's end: its count would start again halfway through.
public enum HourWindow {
    /// Returns once the current hour has at least `seconds` left, sleeping past the next hour's start
    /// when it has not.
    public static func awaitRoom(seconds: Double) async throws {
        let now = Date().timeIntervalSince1970
        let left = 3600 - now.truncatingRemainder(dividingBy: 3600)
        guard left < seconds else { return }
        try await Task.sleep(for: .milliseconds(Int64((left + 1) * 1000)))
    }
}
