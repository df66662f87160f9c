import ChatCore

extension SocketIOPacket {
    /// Event names the protocol reserves; a client may not emit them.
    static let reservedEventNames: Set<String> = [
        "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
    ]

    /// Decodes one packet's text form with socket.io-parser's rules. Never traps: any input yields a
    /// packet or a `SocketIOProtocolError`.
    public static func decode(_ text: String) throws(SocketIOProtocolError) -> SocketIOPacket {
        var reader = ByteReader(Array(text.utf8))
        let (type, namespace, ackID) = try readHeader(&reader)
        // The header was well-formed; the attachments would follow as separate binary packets.
        if type.isBinary { throw .binaryAttachmentsNotSupported }
        var data: JSONValue?
        if !reader.isAtEnd {
            do {
                data = try JSONValue.parse(reader.remaining)
            } catch {
                throw .invalidJSON
            }
        }
        let packet = SocketIOPacket(type, namespace: namespace, ackID: ackID, data: data)
        guard packet.hasValidPayload else { throw .invalidPayload }
        return packet
    }

    /// A packet's header (type, namespace, ack id) without its JSON payload: what the server needs to
    /// refuse an oversized event without parsing it. Only the first bytes are read; a namespace longer
    /// than those comes back cut.
    public static func header(of text: String) -> (type: SocketIOPacketType, namespace: String, ackID: Int?)? {
        var reader = ByteReader(Array(text.utf8.prefix(256)))
        return try? readHeader(&reader)
    }

    private static func readHeader(_ reader: inout ByteReader) throws(SocketIOProtocolError)
        -> (type: SocketIOPacketType, namespace: String, ackID: Int?) {
        guard let first = reader.next() else { throw .emptyPacket }
        guard first >= 0x30, let type = SocketIOPacketType(rawValue: first &- 0x30) else {
            throw .invalidPacketType
        }
        if type.isBinary {
            guard reader.number(maxDigits: 6) != nil, reader.skip(UInt8(ascii: "-")) else {
                throw .invalidAttachmentCount
            }
        }
        var namespace = mainNamespace
        if reader.peek() == UInt8(ascii: "/") {
            namespace = reader.string(upTo: UInt8(ascii: ","))
            _ = reader.skip(UInt8(ascii: ","))
        }
        var ackID: Int?
        if let digit = reader.peek(), ByteReader.isDigit(digit) {
            guard let id = reader.number(maxDigits: 15) else { throw .invalidAckID }
            ackID = id
        }
        return (type, namespace, ackID)
    }

    /// The payload shape each packet type requires (socket.io-parser's `isPayloadValid`).
    var hasValidPayload: Bool {
        switch type {
        case .connect:
            return data == nil || data?.objectValue != nil
        case .disconnect:
            return data == nil
        case .connectError:
            return data?.stringValue != nil || data?.objectValue != nil
        case .event, .binaryEvent:
            guard let elements = data?.arrayValue, let name = elements.first else { return false }
            switch name {
            case .string(let text): return !Self.reservedEventNames.contains(text)
            case .number: return true
            default: return false
            }
        case .ack, .binaryAck:
            return data?.arrayValue != nil
        }
    }
}

/// A cursor over UTF-8 bytes; every read is bounds-checked.
struct ByteReader {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    var isAtEnd: Bool { index >= bytes.count }
    var remaining: ArraySlice<UInt8> { bytes[min(index, bytes.count)...] }

    func peek() -> UInt8? { isAtEnd ? nil : bytes[index] }

    mutating func next() -> UInt8? {
        guard let byte = peek() else { return nil }
        index += 1
        return byte
    }

    mutating func skip(_ expected: UInt8) -> Bool {
        guard peek() == expected else { return false }
        index += 1
        return true
    }

    /// Reads up to the delimiter (not consumed) or the end.
    mutating func string(upTo delimiter: UInt8) -> String {
        let start = index
        while let byte = peek(), byte != delimiter { index += 1 }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// A run of decimal digits; nil when there are none or more than `maxDigits`.
    mutating func number(maxDigits: Int) -> Int? {
        let start = index
        var value = 0
        while let byte = peek(), Self.isDigit(byte) {
            guard index - start < maxDigits else { return nil }
            value = value * 10 + Int(byte - 0x30)
            index += 1
        }
        return index > start ? value : nil
    }
}
