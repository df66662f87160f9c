/// Session and socket ids: 16 bytes from the system CSPRNG as 22 URL-safe characters, so ids can be
/// neither guessed nor enumerated.
enum RandomID {
    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return make(using: &generator)
    }

    static func make(using generator: inout some RandomNumberGenerator) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for _ in 0..<2 {
            var word = generator.next()
            for _ in 0..<8 {
                bytes.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        // Base64url without padding: 128 bits → 22 characters.
        var text: [UInt8] = []
        text.reserveCapacity(22)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var group: UInt32 = 0
            for byte in chunk { group = group << 8 | UInt32(byte) }
            group <<= UInt32(8 * (3 - chunk.count))
            let characters = chunk.count + 1
            for position in 0..<characters {
                let shift = UInt32(18 - 6 * position)
                text.append(alphabet[Int((group >> shift) & 0x3F)])
            }
            index += 3
        }
        return String(decoding: text, as: UTF8.self)
    }
}
