import ChatCore

/// Socket.IO protocol 5 packet types.
public enum SocketIOPacketType: UInt8, Sendable, CaseIterable {
    case connect = 0, disconnect = 1, event = 2, ack = 3, connectError = 4, binaryEvent = 5, binaryAck = 6

    var isBinary: Bool { self == .binaryEvent || self == .binaryAck }
}

/// One Socket.IO packet: `<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`.
public struct SocketIOPacket: Sendable, Hashable {
    public static let mainNamespace = "/"

    public var type: SocketIOPacketType
    public var namespace: String
    public var ackID: Int?
    public var data: JSONValue?
    /// The number of binary attachments (BINARY_EVENT/BINARY_ACK only).
    public var attachments: Int?

    public init(
        _ type: SocketIOPacketType, namespace: String = SocketIOPacket.mainNamespace, ackID: Int? = nil,
        data: JSONValue? = nil, attachments: Int? = nil
    ) {
        self.type = type
        self.namespace = namespace
        self.ackID = ackID
        self.data = data
        self.attachments = attachments
    }

    /// The packet's text form (what follows the Engine.IO `4`).
    public var encoded: String {
        var writer = JSONWriter()
        SocketIOPacket.writeHeader(type, namespace: namespace, ackID: ackID, attachments: attachments, to: &writer)
        if let data { writer.write(data) }
        return writer.text
    }

    static func writeHeader(
        _ type: SocketIOPacketType, namespace: String, ackID: Int?, attachments: Int? = nil,
        to writer: inout JSONWriter
    ) {
        writer.writeRaw(String(type.rawValue))
        if type.isBinary { writer.writeRaw("\(attachments ?? 0)-") }
        if namespace != mainNamespace { writer.writeRaw(namespace + ",") }
        if let ackID { writer.writeRaw(String(ackID)) }
    }
}

/// Ready-to-send Engine.IO message frames carrying Socket.IO packets, written without building a packet
/// value first: an emit encodes its frame once and hands the same string to every recipient.
public enum SocketIOFrame {
    /// `42["event",...args]`, or `42<id>[...]` when an acknowledgement is requested.
    public static func event(
        _ name: String, _ arguments: [JSONValue], ackID: Int? = nil,
        namespace: String = SocketIOPacket.mainNamespace
    ) -> String {
        var writer = JSONWriter(capacity: 128)
        writer.writeRaw("4")
        SocketIOPacket.writeHeader(.event, namespace: namespace, ackID: ackID, to: &writer)
        writer.writeRaw("[")
        writer.writeString(name)
        for argument in arguments {
            writer.writeRaw(",")
            writer.write(argument)
        }
        writer.writeRaw("]")
        return writer.text
    }

    /// `43<id>[...]`: the reply to a client's event.
    public static func ack(
        _ ackID: Int, _ arguments: [JSONValue], namespace: String = SocketIOPacket.mainNamespace
    ) -> String {
        message(SocketIOPacket(.ack, namespace: namespace, ackID: ackID, data: .array(arguments)))
    }

    /// Any packet wrapped in an Engine.IO message.
    public static func message(_ packet: SocketIOPacket) -> String {
        "4" + packet.encoded
    }
}
