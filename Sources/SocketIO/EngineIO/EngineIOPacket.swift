import Foundation

/// Engine.IO protocol 4 packet types: the first character of every packet.
public enum EngineIOPacketType: UInt8, Sendable, CaseIterable {
    case open = 0, close = 1, ping = 2, pong = 3, message = 4, upgrade = 5, noop = 6

    /// The ASCII digit that starts an encoded packet.
    var digit: UInt8 { 0x30 + rawValue }
}

/// What an Engine.IO packet carries: text, or bytes (only `message` packets carry bytes).
public enum EngineIOPacketData: Sendable, Hashable {
    case text(String)
    case binary([UInt8])
}

/// One Engine.IO packet.
public struct EngineIOPacket: Sendable, Hashable {
    public var type: EngineIOPacketType
    public var data: EngineIOPacketData

    public init(_ type: EngineIOPacketType, _ text: String = "") {
        self.type = type
        self.data = .text(text)
    }

    public init(binary bytes: [UInt8]) {
        self.type = .message
        self.data = .binary(bytes)
    }

    /// The packet as text: `<type digit><data>`, or `b<base64>` for binary data, as polling payloads
    /// carry it (WebSocket sends binary packets as binary frames instead).
    public var encoded: String {
        switch data {
        case .text(let text): String(type.rawValue) + text
        case .binary(let bytes): "b" + Data(bytes).base64EncodedString()
        }
    }

    /// Decodes one packet in its text form.
    public static func decode(_ text: Substring) throws(SocketIOProtocolError) -> EngineIOPacket {
        guard let first = text.utf8.first else { throw .emptyPacket }
        let rest = text.dropFirst()
        if first == UInt8(ascii: "b") {
            guard let bytes = Data(base64Encoded: String(rest)) else { throw .invalidBase64 }
            return EngineIOPacket(binary: [UInt8](bytes))
        }
        guard first >= 0x30, let type = EngineIOPacketType(rawValue: first &- 0x30) else {
            throw .invalidPacketType
        }
        return EngineIOPacket(type, String(rest))
    }

    public static func decode(_ text: String) throws(SocketIOProtocolError) -> EngineIOPacket {
        try decode(text[...])
    }
}

extension EngineIOPacketData {
    /// How a WebSocket carries one encoded packet the session hands its writer: `b<base64>` (a binary
    /// message in its polling form) as a binary frame of those bytes, anything else as a text frame.
    /// No text packet starts with `b`: they start with their type digit.
    public init(webSocketFrame encoded: String) {
        if encoded.utf8.first == UInt8(ascii: "b"), let bytes = Data(base64Encoded: String(encoded.dropFirst())) {
            self = .binary([UInt8](bytes))
        } else {
            self = .text(encoded)
        }
    }
}
