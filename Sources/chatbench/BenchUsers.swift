import ChatCore
import Foundation

/// One benchmark user: a token chatd accepts and the user id inside it.
struct BenchUser: Sendable {
    var token: String
    var userId: String
}

/// Reads a file with one JWT per line and takes each user id from the token's `userId` claim (the
/// payload is read, not verified: chatd does that).
enum TokenFile {
    static func load(_ path: String, limit: Int?) throws -> [BenchUser] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw BenchError.badInput("cannot read --tokens \(path): \(error.localizedDescription)")
        }
        var users: [BenchUser] = []
        for (index, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let token = line.trimmingCharacters(in: .whitespaces)
            if token.isEmpty { continue }
            guard let userId = userID(inToken: token) else {
                throw BenchError.badInput("\(path):\(index + 1): not a JWT with a userId claim")
            }
            users.append(BenchUser(token: token, userId: userId))
            if let limit, users.count >= limit { break }
        }
        guard !users.isEmpty else { throw BenchError.badInput("\(path) has no tokens") }
        return users
    }

    static func userID(inToken token: String) -> String? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let claims = try? JSONValue.parse(data) else { return nil }
        return claims["userId"]?.stringValue
    }
}

/// Current-generation Chat3 updates (`update.dialog.user.{userId}.message`, `message.create`) whose
/// message content is the send time, so the receiver can compute publish→client latency.
struct UpdateFactory: Sendable {
    var tenantId: String
    /// Makes event ids unique per run (chatd drops a repeated eventId, userId, updateType, entityId) and
    /// tells this run's updates from leftovers of an earlier run still queued for the same users.
    var runId: UInt32 = UInt32.random(in: 1..<UInt32.max)

    func routingKey(userId: String) -> String { "update.dialog.user.\(userId).message" }

    func body(sequence: Int, userId: String, sentAt: UInt64) -> [UInt8] {
        let messageId = "msg_b\(sequence)"
        let dialogId = "dlg_bench\(runId)"
        let text = """
        {"tenantId":"\(tenantId)","userId":"\(userId)","entityId":"\(messageId)",\
        "eventId":"evt_\(runId)_\(sequence)","sourceEventType":"message.create","updateType":"update.message",\
        "data":{"message":{"messageId":"\(messageId)","dialogId":"\(dialogId)","senderId":"usr_chatbench",\
        "type":"internal.text","content":"\(sentAt)","meta":{"benchRun":\(runId)}},"context":{"dialogId":"\(dialogId)",\
        "eventType":"message.create"}}}
        """
        return Array(text.utf8)
    }
}

/// Reads `"key": "digits"` or `"key": digits` out of a JSON text without parsing all of it: the event
/// payloads are small and this runs for every delivery.
enum JSONScan {
    static func number(after key: String, in bytes: some Collection<UInt8>) -> UInt64? {
        let needle = Array("\"\(key)\"".utf8)
        let haystack = Array(bytes)
        guard haystack.count >= needle.count else { return nil }
        var index = 0
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0], Array(haystack[index..<index + needle.count]) == needle {
                var cursor = index + needle.count
                while cursor < haystack.count, haystack[cursor] == 0x20 || haystack[cursor] == 0x3A || haystack[cursor] == 0x22 {
                    cursor += 1
                }
                // `msg_b123` and similar: skip a non-digit prefix up to the digits.
                while cursor < haystack.count, !(0x30...0x39).contains(haystack[cursor]), haystack[cursor] != 0x22 {
                    cursor += 1
                }
                var value: UInt64 = 0
                var digits = 0
                while cursor < haystack.count, (0x30...0x39).contains(haystack[cursor]), digits < 19 {
                    value = value * 10 + UInt64(haystack[cursor] - 0x30)
                    cursor += 1
                    digits += 1
                }
                return digits > 0 ? value : nil
            }
            index += 1
        }
        return nil
    }
}
