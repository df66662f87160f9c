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

    /// The header, without the payload.
    public var header: Header {
        Header(type: type, namespace: namespace, ackID: ackID, attachments: attachments ?? 0)
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
        eventFrame(.event, name, arguments, ackID: ackID, namespace: namespace)
    }

    /// An event with binary attachments: the BINARY_EVENT header `45<n>-[...]` (its arguments refer to
    /// the attachments by placeholders `{"_placeholder":true,"num":N}`) and then one binary message per
    /// attachment, each in its polling form `b<base64>` (a WebSocket writer sends those as binary frames).
    /// Without attachments it is a plain EVENT.
    public static func event(
        _ name: String, _ arguments: [JSONValue], attachments: [[UInt8]], ackID: Int? = nil,
        namespace: String = SocketIOPacket.mainNamespace
    ) -> [String] {
        guard !attachments.isEmpty else { return [event(name, arguments, ackID: ackID, namespace: namespace)] }
        let header = eventFrame(.binaryEvent, name, arguments, ackID: ackID, namespace: namespace,
                                attachments: attachments.count)
        return [header] + attachments.map { EngineIOPacket(binary: $0).encoded }
    }

    private static func eventFrame(
        _ type: SocketIOPacketType, _ name: String, _ arguments: [JSONValue], ackID: Int?, namespace: String,
        attachments: Int? = nil
    ) -> String {
        var writer = JSONWriter(capacity: 128)
        writer.writeRaw("4")
        SocketIOPacket.writeHeader(type, namespace: namespace, ackID: ackID, attachments: attachments, to: &writer)
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

    /// The reply to a client's event: an ACK, or with attachments a BINARY_ACK `46<n>-<id>[...]` followed
    /// by the attachments' binary messages.
    public static func ack(
        _ ackID: Int, _ reply: SocketIOReply, namespace: String = SocketIOPacket.mainNamespace
    ) -> [String] {
        guard !reply.attachments.isEmpty else { return [ack(ackID, reply.arguments, namespace: namespace)] }
        let header = message(SocketIOPacket(.binaryAck, namespace: namespace, ackID: ackID,
                                            data: .array(reply.arguments), attachments: reply.attachments.count))
        return [header] + reply.attachments.map { EngineIOPacket(binary: $0).encoded }
    }

    /// Any packet wrapped in an Engine.IO message.
    public static func message(_ packet: SocketIOPacket) -> String {
        "4" + packet.encoded
    }
}
