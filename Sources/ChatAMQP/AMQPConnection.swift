import CRabbitMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One librabbitmq connection. Not thread-safe and deliberately not `Sendable`: it is created, used and
/// destroyed on the single thread of an `AMQPWorker`.
final class AMQPConnection {
    struct Settings: Sendable {
        var url: AMQPURL
        var connectionName: String
        var heartbeatSeconds: Int
        var connectTimeout: Duration
        var rpcTimeout: Duration
    }

    private let state: amqp_connection_state_t
    private(set) var isOpen = false
    let heartbeatSeconds: Int

    /// Connects, logs in and leaves the connection ready for `openChannel`.
    init(_ settings: Settings) throws(AMQPFailure) {
        guard let state = amqp_new_connection() else { throw .library("out of memory") }
        self.state = state
        self.heartbeatSeconds = settings.heartbeatSeconds
        guard let socket = amqp_tcp_socket_new(state) else { throw .library("cannot create socket") }

        var connectTimeout = timeval(settings.connectTimeout)
        let status = amqp_socket_open_noblock(socket, settings.url.host, Int32(settings.url.port), &connectTimeout)
        guard status == AMQP_STATUS_OK.rawValue else { throw .library(Self.statusText(status)) }
        var rpcTimeout = timeval(settings.rpcTimeout)
        _ = amqp_set_rpc_timeout(state, &rpcTimeout)
        _ = amqp_set_handshake_timeout(state, &rpcTimeout)

        let reply = chatd_amqp_login_named(state, settings.url.vhost, 131_072, Int32(settings.heartbeatSeconds),
                                           settings.url.user, settings.url.password, settings.connectionName)
        isOpen = true
        try check(reply, channel: 0)
    }

    deinit {
        // Closes the socket too; a graceful close (if any) happened in `close()`.
        amqp_destroy_connection(state)
    }

    var socketDescriptor: Int32 { amqp_get_sockfd(state) }

    /// Whether frames are already read (queued or buffered) and a poll on the socket would miss them.
    var hasBufferedInput: Bool { amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0 }

    /// Closes the connection politely when the broker is still there; never throws.
    func close() {
        guard isOpen else { return }
        isOpen = false
        _ = amqp_connection_close(state, AMQP_REPLY_SUCCESS)
    }

    /// Drops the connection without the closing handshake (it is already broken).
    func abandon() { isOpen = false }

    // MARK: Synchronous methods (RPCs); frames for other channels that arrive meanwhile are queued.

    func openChannel(_ channel: UInt16) throws(AMQPFailure) {
        _ = amqp_channel_open(state, channel)
        try checkLastReply(channel)
    }

    func confirmSelect(_ channel: UInt16) throws(AMQPFailure) {
        _ = amqp_confirm_select(state, channel)
        try checkLastReply(channel)
    }

    func basicQos(_ channel: UInt16, prefetchCount: UInt16) throws(AMQPFailure) {
        _ = amqp_basic_qos(state, channel, 0, prefetchCount, 0)
        try checkLastReply(channel)
    }

    func declareExchange(_ channel: UInt16, name: String, type: String, durable: Bool) throws(AMQPFailure) {
        withBytes(name) { nameBytes in
            withBytes(type) { typeBytes in
                _ = amqp_exchange_declare(state, channel, nameBytes, typeBytes, 0, durable ? 1 : 0, 0, 0, amqp_empty_table)
            }
        }
        try checkLastReply(channel)
    }

    /// `exclusive`: the queue belongs to this connection; another connection declaring it gets 405.
    func declareQueue(_ channel: UInt16, name: String, durable: Bool, autoDelete: Bool, exclusive: Bool = false,
                      arguments: AMQPTable) throws(AMQPFailure) {
        withBytes(name) { nameBytes in
            arguments.withTable { table in
                _ = amqp_queue_declare(state, channel, nameBytes, 0, durable ? 1 : 0, exclusive ? 1 : 0,
                                       autoDelete ? 1 : 0, table)
            }
        }
        try checkLastReply(channel)
    }

    /// Checks that a queue exists without touching its arguments (queue.declare passive).
    func declareQueuePassive(_ channel: UInt16, name: String) throws(AMQPFailure) {
        withBytes(name) { nameBytes in
            _ = amqp_queue_declare(state, channel, nameBytes, 1, 0, 0, 0, amqp_empty_table)
        }
        try checkLastReply(channel)
    }

    func deleteQueue(_ channel: UInt16, name: String) throws(AMQPFailure) {
        withBytes(name) { nameBytes in
            _ = amqp_queue_delete(state, channel, nameBytes, 0, 0)
        }
        try checkLastReply(channel)
    }

    func bindQueue(_ channel: UInt16, queue: String, exchange: String, routingKey: String) throws(AMQPFailure) {
        withBytes(queue) { queueBytes in
            withBytes(exchange) { exchangeBytes in
                withBytes(routingKey) { keyBytes in
                    _ = amqp_queue_bind(state, channel, queueBytes, exchangeBytes, keyBytes, amqp_empty_table)
                }
            }
        }
        try checkLastReply(channel)
    }

    // MARK: Pipelined methods (nowait): no reply is sent. A refusal closes the channel instead, and the
    // next synchronous method on that channel reports it: the broker handles a channel's methods in order.

    func declareQueueNoWait(_ channel: UInt16, name: String, durable: Bool, autoDelete: Bool,
                            arguments: AMQPTable) throws(AMQPFailure) {
        let status: Int32 = withBytes(name) { nameBytes in
            arguments.withTable { table in
                var method = amqp_queue_declare_t(ticket: 0, queue: nameBytes, passive: 0, durable: durable ? 1 : 0,
                                                  exclusive: 0, auto_delete: autoDelete ? 1 : 0, nowait: 1,
                                                  arguments: table)
                return amqp_send_method(state, channel, AMQPConstants.queueDeclare, &method)
            }
        }
        try checkStatus(status)
    }

    func bindQueueNoWait(_ channel: UInt16, queue: String, exchange: String, routingKey: String) throws(AMQPFailure) {
        let status: Int32 = withBytes(queue) { queueBytes in
            withBytes(exchange) { exchangeBytes in
                withBytes(routingKey) { keyBytes in
                    var method = amqp_queue_bind_t(ticket: 0, queue: queueBytes, exchange: exchangeBytes,
                                                   routing_key: keyBytes, nowait: 1, arguments: amqp_empty_table)
                    return amqp_send_method(state, channel, AMQPConstants.queueBind, &method)
                }
            }
        }
        try checkStatus(status)
    }

    /// basic.consume without its consume-ok; a refusal closes `channel`, and arrives as its channel.close.
    func consumeNoWait(_ channel: UInt16, queue: String, consumerTag: String) throws(AMQPFailure) {
        let status: Int32 = withBytes(queue) { queueBytes in
            withBytes(consumerTag) { tagBytes in
                var method = amqp_basic_consume_t(ticket: 0, queue: queueBytes, consumer_tag: tagBytes, no_local: 0,
                                                  no_ack: 0, exclusive: 0, nowait: 1, arguments: amqp_empty_table)
                return amqp_send_method(state, channel, AMQPConstants.basicConsume, &method)
            }
        }
        try checkStatus(status)
    }

    func consume(_ channel: UInt16, queue: String, consumerTag: String) throws(AMQPFailure) {
        withBytes(queue) { queueBytes in
            withBytes(consumerTag) { tagBytes in
                _ = amqp_basic_consume(state, channel, queueBytes, tagBytes, 0, 0, 0, amqp_empty_table)
            }
        }
        try checkLastReply(channel)
    }

    func cancel(_ channel: UInt16, consumerTag: String) throws(AMQPFailure) {
        withBytes(consumerTag) { tagBytes in
            _ = amqp_basic_cancel(state, channel, tagBytes)
        }
        try checkLastReply(channel)
    }

    // MARK: Asynchronous methods (no reply); a failure here means the socket is gone.

    func ack(_ channel: UInt16, deliveryTag: UInt64, multiple: Bool = false) throws(AMQPFailure) {
        try checkStatus(amqp_basic_ack(state, channel, deliveryTag, multiple ? 1 : 0))
    }

    func reject(_ channel: UInt16, deliveryTag: UInt64, requeue: Bool) throws(AMQPFailure) {
        try checkStatus(amqp_basic_reject(state, channel, deliveryTag, requeue ? 1 : 0))
    }

    func publish(_ channel: UInt16, exchange: String, routingKey: String, body: [UInt8],
                 headers: AMQPTable, persistent: Bool, timestamp: UInt64) throws(AMQPFailure) {
        var properties = amqp_basic_properties_t()
        properties._flags = AMQPConstants.contentTypeFlag | AMQPConstants.deliveryModeFlag | AMQPConstants.timestampFlag
        properties.delivery_mode = persistent ? 2 : 1
        properties.timestamp = timestamp
        let status: Int32 = withBytes(exchange) { exchangeBytes in
            withBytes(routingKey) { keyBytes in
                AMQPConstants.jsonContentType.withUnsafeBufferPointer { contentType in
                    properties.content_type = amqp_bytes_t(len: contentType.count,
                                                           bytes: UnsafeMutableRawPointer(mutating: contentType.baseAddress))
                    return headers.withTable { table in
                        if table.num_entries > 0 {
                            properties._flags |= AMQPConstants.headersFlag
                            properties.headers = table
                        }
                        return body.withUnsafeBufferPointer { bodyBuffer in
                            amqp_basic_publish(state, channel, exchangeBytes, keyBytes, 0, 0, &properties,
                                               amqp_bytes_t(len: bodyBuffer.count,
                                                            bytes: UnsafeMutableRawPointer(mutating: bodyBuffer.baseAddress)))
                        }
                    }
                }
            }
        }
        try checkStatus(status)
    }

    // MARK: Reading

    /// Returns the next incoming event without blocking, or nil when nothing complete has arrived.
    /// Also sends heartbeats when due and notices a broker that stopped sending them.
    func nextEvent() throws(AMQPFailure) -> AMQPIncoming? {
        var envelope = amqp_envelope_t()
        var immediately = timeval(tv_sec: 0, tv_usec: 0)
        let reply = amqp_consume_message(state, &envelope, &immediately, 0)
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            defer { amqp_destroy_envelope(&envelope) }
            let message = AMQPIncoming.Delivery(
                channel: envelope.channel,
                consumerTag: Self.string(envelope.consumer_tag),
                deliveryTag: envelope.delivery_tag,
                redelivered: envelope.redelivered != 0,
                exchange: Self.string(envelope.exchange),
                routingKey: Self.string(envelope.routing_key),
                body: Self.byteArray(envelope.message.body))
            return .delivery(message)
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            if reply.library_error == AMQP_STATUS_TIMEOUT.rawValue { return nil }
            if reply.library_error == AMQP_STATUS_UNEXPECTED_STATE.rawValue { return try nextNonDeliveryFrame() }
            isOpen = false
            throw .library(Self.statusText(reply.library_error))
        default:
            isOpen = false
            throw .library("unexpected reply while reading")
        }
    }

    /// Lets librabbitmq give memory of handled frames back to its pools.
    func releaseBuffers() { amqp_maybe_release_buffers(state) }

    private func nextNonDeliveryFrame() throws(AMQPFailure) -> AMQPIncoming? {
        var frame = amqp_frame_t()
        let status = amqp_simple_wait_frame(state, &frame) // the frame is already queued: does not block
        try checkStatus(status)
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { return .ignored }
        let method = frame.payload.method
        switch method.id {
        case AMQPConstants.basicAck:
            let ack = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            return .confirm(deliveryTag: ack.delivery_tag, multiple: ack.multiple != 0, ok: true)
        case AMQPConstants.basicNack:
            let nack = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            return .confirm(deliveryTag: nack.delivery_tag, multiple: nack.multiple != 0, ok: false)
        case AMQPConstants.basicCancel:
            let cancel = method.decoded.assumingMemoryBound(to: amqp_basic_cancel_t.self).pointee
            return .consumerCancelled(consumerTag: Self.string(cancel.consumer_tag))
        case AMQPConstants.basicReturn:
            // Only `mandatory` publishes come back, and we never set it; drain the content anyway.
            var message = amqp_message_t()
            let reply = amqp_read_message(state, frame.channel, &message, 0)
            if reply.reply_type == AMQP_RESPONSE_NORMAL { amqp_destroy_message(&message) }
            return .ignored
        case AMQPConstants.channelClose:
            let close = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            var closeOk = amqp_channel_close_ok_t()
            _ = amqp_send_method(state, frame.channel, AMQPConstants.channelCloseOk, &closeOk)
            return .channelClosed(channel: frame.channel, code: Int(close.reply_code), text: Self.string(close.reply_text))
        case AMQPConstants.connectionClose:
            let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            var closeOk = amqp_connection_close_ok_t()
            _ = amqp_send_method(state, 0, AMQPConstants.connectionCloseOk, &closeOk)
            isOpen = false
            return .connectionClosed(code: Int(close.reply_code), text: Self.string(close.reply_text))
        case AMQPConstants.connectionBlocked:
            return .blocked(true)
        case AMQPConstants.connectionUnblocked:
            return .blocked(false)
        default:
            return .ignored
        }
    }

    // MARK: Replies

    private func checkLastReply(_ channel: UInt16) throws(AMQPFailure) {
        try check(amqp_get_rpc_reply(state), channel: channel)
    }

    /// `channel` is the channel of the RPC in flight: a server channel.close in reply to it closed that
    /// channel (librabbitmq does not report the number).
    private func check(_ reply: amqp_rpc_reply_t, channel: UInt16) throws(AMQPFailure) {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            switch reply.reply.id {
            case AMQPConstants.channelClose:
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                let code = Int(close.reply_code)
                let text = Self.string(close.reply_text)
                // The channel is closed by the broker; confirm so its number can be reopened.
                var closeOk = amqp_channel_close_ok_t()
                _ = amqp_send_method(state, channel, AMQPConstants.channelCloseOk, &closeOk)
                throw .channelClosed(channel: channel, code: code, text: text)
            case AMQPConstants.connectionClose:
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                var closeOk = amqp_connection_close_ok_t()
                _ = amqp_send_method(state, 0, AMQPConstants.connectionCloseOk, &closeOk)
                isOpen = false
                throw .connectionClosed(code: Int(close.reply_code), text: Self.string(close.reply_text))
            default:
                isOpen = false
                throw .library("unexpected server method \(reply.reply.id)")
            }
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            isOpen = false
            throw .library(Self.statusText(reply.library_error))
        default:
            isOpen = false
            throw .library("no reply from the broker")
        }
    }

    private func checkStatus(_ status: Int32) throws(AMQPFailure) {
        guard status == AMQP_STATUS_OK.rawValue else {
            isOpen = false
            throw .library(Self.statusText(status))
        }
    }

    // MARK: Bytes

    private func withBytes<R>(_ text: String, _ body: (amqp_bytes_t) -> R) -> R {
        var text = text
        return text.withUTF8 { buffer in
            body(amqp_bytes_t(len: buffer.count, bytes: UnsafeMutableRawPointer(mutating: buffer.baseAddress)))
        }
    }

    static func string(_ bytes: amqp_bytes_t) -> String {
        guard bytes.len > 0, let base = bytes.bytes else { return "" }
        let buffer = UnsafeRawBufferPointer(start: base, count: bytes.len)
        return String(decoding: buffer, as: UTF8.self)
    }

    static func byteArray(_ bytes: amqp_bytes_t) -> [UInt8] {
        guard bytes.len > 0, let base = bytes.bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: bytes.len))
    }

    static func statusText(_ status: Int32) -> String {
        guard let text = amqp_error_string2(status) else { return "librabbitmq status \(status)" }
        return String(cString: text)
    }
}

/// What the owning thread learns from the broker between its own requests.
enum AMQPIncoming {
    struct Delivery {
        var channel: UInt16
        var consumerTag: String
        var deliveryTag: UInt64
        var redelivered: Bool
        var exchange: String
        var routingKey: String
        var body: [UInt8]
    }

    case delivery(Delivery)
    case confirm(deliveryTag: UInt64, multiple: Bool, ok: Bool)
    case consumerCancelled(consumerTag: String)
    case channelClosed(channel: UInt16, code: Int, text: String)
    case connectionClosed(code: Int, text: String)
    case blocked(Bool)
    case ignored
}

/// Internal failure kinds; the workers decide from these whether to reopen a channel or reconnect.
enum AMQPFailure: Error {
    /// Socket or protocol failure inside librabbitmq: the connection is unusable.
    case library(String)
    /// The broker closed one channel (the connection lives on).
    case channelClosed(channel: UInt16, code: Int, text: String)
    /// The broker closed the whole connection.
    case connectionClosed(code: Int, text: String)

    var isConnectionFatal: Bool {
        if case .channelClosed = self { return false }
        return true
    }

    var publicError: AMQPError {
        switch self {
        case .library(let text): .connectionLost(underlying: text)
        case .channelClosed(_, 405, let text): .locked(text: text)
        case .channelClosed(_, let code, let text): .refused(code: code, text: text)
        case .connectionClosed(let code, let text): code == 320 ? .connectionLost(underlying: text) : .refused(code: code, text: text)
        }
    }

    var summary: String {
        switch self {
        case .library(let text): text
        case .channelClosed(let channel, let code, let text): "channel \(channel) closed (\(code)): \(text)"
        case .connectionClosed(let code, let text): "connection closed (\(code)): \(text)"
        }
    }
}

/// An AMQP field table (string keys, integer or string values) that owns the memory librabbitmq
/// points into while a method is being sent.
final class AMQPTable {
    private var entries: [amqp_table_entry_t] = []
    private var allocations: [UnsafeMutablePointer<CChar>] = []

    init() {}

    init(strings: [String: String]) {
        for (key, value) in strings.sorted(by: { $0.key < $1.key }) { set(key, string: value) }
    }

    deinit { for pointer in allocations { free(pointer) } }

    func set(_ key: String, int64 value: Int64) {
        var field = amqp_field_value_t()
        field.kind = UInt8(AMQP_FIELD_KIND_I64.rawValue)
        field.value.i64 = value
        entries.append(amqp_table_entry_t(key: bytes(key), value: field))
    }

    func set(_ key: String, string value: String) {
        var field = amqp_field_value_t()
        field.kind = UInt8(AMQP_FIELD_KIND_UTF8.rawValue)
        field.value.bytes = bytes(value)
        entries.append(amqp_table_entry_t(key: bytes(key), value: field))
    }

    func withTable<R>(_ body: (amqp_table_t) -> R) -> R {
        entries.withUnsafeMutableBufferPointer { buffer in
            body(amqp_table_t(num_entries: Int32(buffer.count), entries: buffer.baseAddress))
        }
    }

    private func bytes(_ text: String) -> amqp_bytes_t {
        let pointer = strdup(text)!
        allocations.append(pointer)
        return amqp_bytes_t(len: strlen(pointer), bytes: UnsafeMutableRawPointer(pointer))
    }
}

enum AMQPConstants {
    // Method ids are (class << 16 | method); librabbitmq's macros for them carry casts Swift cannot import.
    static let basicAck: amqp_method_number_t = 0x003C_0050
    static let queueDeclare: amqp_method_number_t = 0x0032_000A
    static let queueBind: amqp_method_number_t = 0x0032_0014
    static let basicNack: amqp_method_number_t = 0x003C_0078
    static let basicConsume: amqp_method_number_t = 0x003C_0014
    static let basicCancel: amqp_method_number_t = 0x003C_001E
    static let basicReturn: amqp_method_number_t = 0x003C_0032
    static let channelClose: amqp_method_number_t = 0x0014_0028
    static let channelCloseOk: amqp_method_number_t = 0x0014_0029
    static let connectionClose: amqp_method_number_t = 0x000A_0032
    static let connectionCloseOk: amqp_method_number_t = 0x000A_0033
    static let connectionBlocked: amqp_method_number_t = 0x000A_003C
    static let connectionUnblocked: amqp_method_number_t = 0x000A_003D

    static let contentTypeFlag: amqp_flags_t = 1 << 15
    static let headersFlag: amqp_flags_t = 1 << 13
    static let deliveryModeFlag: amqp_flags_t = 1 << 12
    static let timestampFlag: amqp_flags_t = 1 << 6

    static let jsonContentType: [UInt8] = Array("application/json".utf8)
}

extension timeval {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
