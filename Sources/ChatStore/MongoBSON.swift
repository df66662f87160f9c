import CMongoc
import Foundation

/// A BSON value as plain Swift data, so no libbson type leaves the Mongo adapter.
/// Only the types the store writes or reads; anything else decodes as `.unsupported`.
enum BSONValue: Sendable, Equatable {
    case double(Double)
    case string(String)
    case document(BSONDocument)
    case array([BSONValue])
    case objectID(String)
    case bool(Bool)
    /// Milliseconds since the Unix epoch, BSON's own resolution.
    case date(Int64)
    case null
    case int32(Int32)
    case int64(Int64)
    case unsupported(UInt32)

    static func date(_ date: Date) -> BSONValue {
        .date(Int64((date.timeIntervalSince1970 * 1000).rounded()))
    }

    var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    var documentValue: BSONDocument? {
        if case .document(let value) = self { return value }
        return nil
    }

    var arrayValue: [BSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    var dateValue: Date? {
        if case .date(let millis) = self { return Date(timeIntervalSince1970: Double(millis) / 1000) }
        return nil
    }

    /// Servers answer counts as int32, int64 or double depending on version and size.
    var intValue: Int? {
        switch self {
        case .int32(let value): Int(value)
        case .int64(let value): Int(value)
        case .double(let value) where value.rounded() == value && abs(value) < 9e15: Int(value)
        default: nil
        }
    }

    var boolValue: Bool? {
        switch self {
        case .bool(let value): value
        default: intValue.map { $0 != 0 }
        }
    }
}

/// An ordered BSON document. Order matters: a command's name must be its first key.
struct BSONDocument: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    struct Field: Sendable, Equatable {
        var key: String
        var value: BSONValue
    }

    var fields: [Field]

    init(_ fields: [Field] = []) { self.fields = fields }

    init(dictionaryLiteral elements: (String, BSONValue)...) {
        fields = elements.map { Field(key: $0.0, value: $0.1) }
    }

    subscript(key: String) -> BSONValue? {
        get { fields.first { $0.key == key }?.value }
        set {
            if let index = fields.firstIndex(where: { $0.key == key }) {
                if let newValue { fields[index].value = newValue } else { fields.remove(at: index) }
            } else if let newValue {
                fields.append(Field(key: key, value: newValue))
            }
        }
    }

    /// A value at a dotted path, e.g. `cursor.firstBatch`.
    func value(at path: String) -> BSONValue? {
        var current: BSONDocument = self
        let parts = path.split(separator: ".").map(String.init)
        for part in parts.dropLast() {
            guard let next = current[part]?.documentValue else { return nil }
            current = next
        }
        return parts.last.flatMap { current[$0] }
    }
}

extension BSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int32) { self = .int32(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
}

// MARK: libbson conversion

/// Owns a heap `bson_t` built from a `BSONDocument`, for the duration of a C call.
final class CBSON {
    let pointer: OpaquePointer

    init(_ document: BSONDocument) throws(StoreError) {
        guard let pointer = bson_new() else { throw .unavailable("out of memory building a BSON document") }
        self.pointer = pointer
        try Self.append(document, to: pointer)
    }

    deinit { bson_destroy(pointer) }

    private static func append(_ document: BSONDocument, to target: OpaquePointer) throws(StoreError) {
        for field in document.fields {
            try append(field.value, key: field.key, to: target)
        }
    }

    private static func append(_ value: BSONValue, key: String, to target: OpaquePointer) throws(StoreError) {
        let ok: Bool
        switch value {
        case .double(let number): ok = bson_append_double(target, key, -1, number)
        case .string(let text):
            ok = text.utf8CString.withUnsafeBufferPointer { buffer in
                bson_append_utf8(target, key, -1, buffer.baseAddress, Int32(buffer.count - 1))
            }
        case .document(let child):
            let nested = try CBSON(child)
            ok = bson_append_document(target, key, -1, nested.pointer)
        case .array(let items):
            var child = BSONDocument()
            for (index, item) in items.enumerated() { child.fields.append(.init(key: String(index), value: item)) }
            let nested = try CBSON(child)
            ok = bson_append_array(target, key, -1, nested.pointer)
        case .objectID(let hex):
            guard bson_oid_is_valid(hex, hex.utf8.count) else { throw .invalid("bad ObjectId \(hex)") }
            var oid = bson_oid_t()
            bson_oid_init_from_string(&oid, hex)
            ok = bson_append_oid(target, key, -1, &oid)
        case .bool(let flag): ok = bson_append_bool(target, key, -1, flag)
        case .date(let millis): ok = bson_append_date_time(target, key, -1, millis)
        case .null: ok = bson_append_null(target, key, -1)
        case .int32(let number): ok = bson_append_int32(target, key, -1, number)
        case .int64(let number): ok = bson_append_int64(target, key, -1, number)
        case .unsupported: throw .invalid("cannot write an unsupported BSON value")
        }
        guard ok else { throw .invalid("document too large or key \(key) not valid in BSON") }
    }
}

extension BSONDocument {
    /// Copies a libbson document into Swift values.
    init(reading pointer: OpaquePointer) {
        let iterator = BSONIterator()
        guard bson_iter_init(iterator.pointer, pointer) else {
            self.init()
            return
        }
        self.init(iterator.readAll())
    }
}

/// A heap `bson_iter_t` (Swift cannot place a 128-byte aligned C struct on its stack).
private final class BSONIterator {
    let pointer: OpaquePointer
    private let raw: UnsafeMutableRawPointer

    init() {
        raw = UnsafeMutableRawPointer.allocate(byteCount: chatd_bson_iter_size(), alignment: 128)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: chatd_bson_iter_size())
        pointer = OpaquePointer(raw)
    }

    deinit { raw.deallocate() }

    func readAll() -> [BSONDocument.Field] {
        var fields: [BSONDocument.Field] = []
        while bson_iter_next(pointer) {
            fields.append(.init(key: String(cString: bson_iter_key(pointer)), value: currentValue()))
        }
        return fields
    }

    private func child() -> [BSONDocument.Field] {
        let nested = BSONIterator()
        guard bson_iter_recurse(pointer, nested.pointer) else { return [] }
        return nested.readAll()
    }

    private func currentValue() -> BSONValue {
        let type = bson_iter_type(pointer)
        switch type {
        case BSON_TYPE_DOUBLE: return .double(bson_iter_double(pointer))
        case BSON_TYPE_UTF8:
            var length: UInt32 = 0
            guard let text = bson_iter_utf8(pointer, &length) else { return .string("") }
            let bytes = UnsafeRawBufferPointer(start: text, count: Int(length))
            return .string(String(decoding: bytes, as: UTF8.self))
        case BSON_TYPE_DOCUMENT: return .document(BSONDocument(child()))
        case BSON_TYPE_ARRAY: return .array(child().map(\.value))
        case BSON_TYPE_OID:
            var text = [CChar](repeating: 0, count: 25)
            bson_oid_to_string(bson_iter_oid(pointer), &text)
            return .objectID(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        case BSON_TYPE_BOOL: return .bool(bson_iter_bool(pointer))
        case BSON_TYPE_DATE_TIME: return .date(bson_iter_date_time(pointer))
        case BSON_TYPE_NULL: return .null
        case BSON_TYPE_INT32: return .int32(bson_iter_int32(pointer))
        case BSON_TYPE_INT64: return .int64(bson_iter_int64(pointer))
        default: return .unsupported(type.rawValue)
        }
    }
}
