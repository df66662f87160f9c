import ChatCore

extension SocketIOPacket {
    /// Event names the protocol reserves; a client may not emit them.
    static let reservedEventNames: Set<String> = [
        "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
    ]

    /// A packet's header: everything before its JSON payload.
    public struct Header: Sendable, Hashable {
        public var type: SocketIOPacketType
        public var namespace: String
        public var ackID: Int?
        /// BINARY_EVENT/BINARY_ACK: how many binary messages follow; 0 otherwise.
        public var attachments: Int
    }

    /// Decodes one packet's text form with socket.io-parser's rules. Never traps: any input yields a
    /// packet or a `SocketIOProtocolError`. A BINARY_EVENT/BINARY_ACK decodes to its header packet
    /// (`attachments` set): its placeholders must each name one of the attachments, and each attachment
    /// must be named, so the count is bounded by the packet's size. The attachments themselves follow
    /// as separate binary messages.
    public static func decode(_ text: String) throws(SocketIOProtocolError) -> SocketIOPacket {
        var reader = ByteReader(Array(text.utf8))
        let header = try readHeader(&reader)
        var data: JSONValue?
        if !reader.isAtEnd {
            do {
                data = try JSONValue.parse(reader.remaining)
            } catch {
                throw .invalidJSON
            }
        }
        let packet = SocketIOPacket(header.type, namespace: header.namespace, ackID: header.ackID, data: data,
                                    attachments: header.type.isBinary ? header.attachments : nil)
        guard packet.hasValidPayload else { throw .invalidPayload }
        if header.type.isBinary, !Self.placeholders(in: data, match: header.attachments) {
            throw .invalidAttachments
        }
        return packet
    }

    /// A packet's header without its JSON payload: what the server needs to refuse an oversized event
    /// without parsing it. Only the first bytes are read; a namespace longer than those comes back cut.
    public static func header(of text: String) -> Header? {
        var reader = ByteReader(Array(text.utf8.prefix(256)))
        return try? readHeader(&reader)
    }

    private static func readHeader(_ reader: inout ByteReader) throws(SocketIOProtocolError) -> Header {
        guard let first = reader.next() else { throw .emptyPacket }
        guard first >= 0x30, let type = SocketIOPacketType(rawValue: first &- 0x30) else {
            throw .invalidPacketType
        }
        var attachments = 0
        if type.isBinary {
            guard let count = reader.number(maxDigits: 6), reader.skip(UInt8(ascii: "-")) else {
                throw .invalidAttachmentCount
            }
            attachments = count
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
        return Header(type: type, namespace: namespace, ackID: ackID, attachments: attachments)
    }

    /// Whether every placeholder `{"_placeholder":true,"num":N}` in `data` names an attachment
    /// (0 ≤ N < count) and every attachment is named at least once.
    static func placeholders(in data: JSONValue?, match count: Int) -> Bool {
        var named = Set<Int>()
        var valid = true
        func visit(_ value: JSONValue) {
            switch value {
            case .array(let elements):
                elements.forEach(visit)
            case .object(let members):
                if members["_placeholder"] == .bool(true) {
                    guard let number = members["num"]?.intValue, number >= 0, number < count else {
                        valid = false
                        return
                    }
                    named.insert(number)
                } else {
                    members.values.forEach(visit)
                }
            default:
                break
            }
        }
        if let data { visit(data) }
        return valid && named.count == count
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
