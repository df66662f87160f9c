/// Why a packet or payload from a peer could not be decoded. Decoders return these instead of trapping,
/// whatever bytes arrive.
public enum SocketIOProtocolError: Error, Sendable, Hashable {
    /// An Engine.IO packet or Socket.IO packet with no characters at all.
    case emptyPacket
    /// The first character is not a known packet type.
    case invalidPacketType
    /// A `b`-prefixed Engine.IO packet whose body is not base64.
    case invalidBase64
    /// A body or frame larger than `maxPayload` bytes.
    case payloadTooLarge
    /// The binary attachment count of a BINARY_EVENT/BINARY_ACK header is malformed.
    case invalidAttachmentCount
    /// The acknowledgement id is not a number we can represent.
    case invalidAckID
    /// The payload is not JSON.
    case invalidJSON
    /// The payload is JSON but not the shape the packet type requires (e.g. an EVENT that is not a
    /// non-empty array starting with a name).
    case invalidPayload
    /// BINARY_EVENT and BINARY_ACK: a placeholder names no attachment, an attachment is named by no
    /// placeholder, or the binary messages that follow do not match the header.
    case invalidAttachments

    /// A short sentence, safe to send to a client.
    public var message: String {
        switch self {
        case .emptyPacket: "empty packet"
        case .invalidPacketType: "invalid packet type"
        case .invalidBase64: "invalid base64 data"
        case .payloadTooLarge: "payload too large"
        case .invalidAttachmentCount: "invalid attachment count"
        case .invalidAckID: "invalid acknowledgement id"
        case .invalidJSON: "invalid JSON"
        case .invalidPayload: "invalid payload"
        case .invalidAttachments: "invalid binary attachments"
        }
    }
}
