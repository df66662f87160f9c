/// HTTP long-polling bodies: packets joined by the record separator (Engine.IO protocol 4).
public enum EngineIOPayload {
    public static let separator: Character = "\u{1e}"
    static let separatorByte: UInt8 = 0x1e

    /// Joins already-encoded packets into one body.
    public static func encode(_ encodedPackets: some Sequence<String>) -> String {
        encodedPackets.joined(separator: String(separator))
    }

    public static func encode(_ packets: [EngineIOPacket]) -> String {
        encode(packets.lazy.map(\.encoded))
    }

    /// Splits and decodes a body; the first bad packet fails the whole body, as the reference server does.
    public static func decode(
        _ body: String, maxPayload: Int = .max
    ) throws(SocketIOProtocolError) -> [EngineIOPacket] {
        guard body.utf8.count <= maxPayload else { throw .payloadTooLarge }
        var packets: [EngineIOPacket] = []
        // Splitting the UTF-8 view cuts only at the separator byte, which never occurs inside a
        // multi-byte character.
        for part in body.utf8.split(separator: separatorByte, omittingEmptySubsequences: false) {
            packets.append(try EngineIOPacket.decode(Substring(part)))
        }
        return packets
    }
}
