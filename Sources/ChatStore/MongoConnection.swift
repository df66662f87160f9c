import CMongoc
import Dispatch
import Foundation
import Logging
import Synchronization

/// A `mongodb://` URL checked by libmongoc, with the defaults chatd needs.
struct MongoURL: Sendable {
    static let defaultDatabase = "chatpapp"
    /// Short, so a store that is down is reported in seconds, not after libmongoc's 30 s default.
    static let defaultServerSelectionTimeoutMS: Int32 = 2000

    let text: String
    let database: String
    /// Hosts and database, without credentials or options: safe for logs and status output.
    let location: String

    init(_ text: String) throws(StoreError) {
        guard text.hasPrefix("mongodb://") || text.hasPrefix("mongodb+srv://") else {
            throw .invalid("a MongoDB URL starts with mongodb://, e.g. mongodb://127.0.0.1:27017/chatpapp")
        }
        self.text = text
        let uri = try Self.parse(text)
        defer { mongoc_uri_destroy(uri) }
        let database = mongoc_uri_get_database(uri).map { String(cString: $0) } ?? ""
        self.database = database.isEmpty ? Self.defaultDatabase : database

        var hosts: [String] = []
        var host = mongoc_uri_get_hosts(uri)
        while let current = host {
            hosts.append(withUnsafeBytes(of: current.pointee.host_and_port) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            })
            host = UnsafePointer(current.pointee.next)
        }
        if hosts.isEmpty, let service = mongoc_uri_get_srv_hostname(uri) {
            hosts.append(String(cString: service))
        }
        let scheme = text.hasPrefix("mongodb+srv://") ? "mongodb+srv" : "mongodb"
        location = "\(scheme)://\(hosts.joined(separator: ","))/\(self.database)"
    }

    /// A libmongoc URI with chatd's defaults where the URL sets nothing. The caller destroys it.
    func makeURI() throws(StoreError) -> OpaquePointer {
        let uri = try Self.parse(text)
        if !mongoc_uri_has_option(uri, "serverSelectionTimeoutMS") {
            mongoc_uri_set_option_as_int32(uri, "serverSelectionTimeoutMS", Self.defaultServerSelectionTimeoutMS)
        }
        if !mongoc_uri_has_option(uri, "connectTimeoutMS") {
            mongoc_uri_set_option_as_int32(uri, "connectTimeoutMS", Self.defaultServerSelectionTimeoutMS)
        }
        if !mongoc_uri_has_option(uri, "appname") {
            mongoc_uri_set_appname(uri, "chatd")
        }
        return uri
    }

    private static func parse(_ text: String) throws(StoreError) -> OpaquePointer {
        MongoDriver.initializeOnce()
        var error = bson_error_t()
        guard let uri = mongoc_uri_new_with_error(text, &error) else {
            throw .invalid("bad MongoDB URL: \(error.text)")
        }
        return uri
    }
}

enum MongoDriver {
    /// libmongoc must be initialized once per process before any other call. Its own log lines
    /// (stderr by default, debug included) go to swift-log instead, so the executable decides.
    private static let initialized: Bool = {
        // The handler goes in before mongoc_init, so whatever init logs follows the executable's log
        // settings. Debian's libmongoc also initializes itself when it is loaded, before any of our
        // code: its "Falling back to malloc for counters" (a dead process left its shared-memory
        // segment under a reused pid) cannot be routed, only prevented with MONGOC_DISABLE_SHM=1 in the
        // environment chatd starts with (the systemd unit and the test fixtures set it). Never setenv
        // here: changing the environment while other threads start processes is a crash waiting to happen.
        mongoc_log_set_handler({ level, domain, message, _ in
            MongoDriver.forwardLog(level: level, domain: domain, message: message)
        }, nil)
        mongoc_init()
        return true
    }()

    static func initializeOnce() { _ = initialized }

    private static func forwardLog(level: mongoc_log_level_t, domain: UnsafePointer<CChar>?,
                                   message: UnsafePointer<CChar>?) {
        let swiftLevel: Logger.Level = switch level {
        case MONGOC_LOG_LEVEL_ERROR, MONGOC_LOG_LEVEL_CRITICAL: .error
        case MONGOC_LOG_LEVEL_WARNING: .warning
        case MONGOC_LOG_LEVEL_MESSAGE, MONGOC_LOG_LEVEL_INFO: .debug
        default: .trace
        }
        let logger = Logger(label: "chatd.mongoc")
        guard logger.logLevel <= swiftLevel else { return }
        logger.log(level: swiftLevel, "libmongoc", metadata: [
            "mongoc.domain": .string(domain.map { String(cString: $0) } ?? ""),
            "mongoc.message": .string(message.map { String(cString: $0) } ?? ""),
        ])
    }
}

/// A libmongoc client pool plus the threads that run its blocking calls.
///
/// libmongoc blocks the calling thread for network round trips, so every call runs on `queue`, a
/// dedicated concurrent dispatch queue, never on Swift's cooperative pool; callers await a continuation.
/// The pool is thread-safe; each popped client is used by one thread and pushed back before the next.
final class MongoConnection: Sendable {
    let url: MongoURL
    private let pool: Pool
    private let queue = DispatchQueue(label: "chatd.mongo", qos: .userInitiated, attributes: .concurrent)
    private let closed = Mutex(false)

    /// The C pool pointer. `mongoc_client_pool_t` is documented thread-safe (pop/push from any thread),
    /// and it is destroyed only in a barrier block on `queue`, after every call that could use it.
    private final class Pool: @unchecked Sendable {
        let pointer: OpaquePointer
        init(_ pointer: OpaquePointer) { self.pointer = pointer }
    }

    init(url: MongoURL) throws(StoreError) {
        self.url = url
        let uri = try url.makeURI()
        defer { mongoc_uri_destroy(uri) }
        guard let pool = mongoc_client_pool_new(uri) else {
            throw .invalid("libmongoc refused the URL \(url.location)")
        }
        // Error API 2 reports server errors in their own domain, apart from client-side ones.
        mongoc_client_pool_set_error_api(pool, 2)
        self.pool = Pool(pool)
    }

    deinit {
        if !closed.withLock({ $0 }) { mongoc_client_pool_destroy(pool.pointer) }
    }

    /// Runs `body` with a pooled client on the Mongo queue.
    func run<T: Sendable>(_ body: @escaping @Sendable (MongoSession) throws(StoreError) -> T) async throws(StoreError) -> T {
        let result: Result<T, StoreError> = await withCheckedContinuation { continuation in
            queue.async { [self] in
                guard !closed.withLock({ $0 }) else {
                    continuation.resume(returning: .failure(.unavailable("store is closed")))
                    return
                }
                guard let client = mongoc_client_pool_pop(pool.pointer) else {
                    continuation.resume(returning: .failure(.unavailable("no MongoDB client available")))
                    return
                }
                defer { mongoc_client_pool_push(pool.pointer, client) }
                let session = MongoSession(client: client, url: url)
                continuation.resume(returning: Result { () throws(StoreError) -> T in try body(session) })
            }
        }
        return try result.get()
    }

    /// Waits for running calls, then frees the pool. Later calls fail with `.unavailable`.
    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async(flags: .barrier) { [self] in
                let wasClosed = closed.withLock { value in
                    defer { value = true }
                    return value
                }
                if !wasClosed { mongoc_client_pool_destroy(pool.pointer) }
                continuation.resume()
            }
        }
    }
}

/// One pooled client lent to a block on the Mongo queue. Never escapes that block.
struct MongoSession {
    let client: OpaquePointer
    let url: MongoURL

    /// Runs a database command and returns its reply, or throws the reply's error as a `StoreError`.
    /// Write errors (`writeErrors`) are left in the reply for the caller, which knows which write failed.
    func command(_ command: BSONDocument, write: Bool) throws(StoreError) -> BSONDocument {
        let encoded = try CBSON(command)
        var replyPointer: OpaquePointer?
        var error = bson_error_t()
        let ok = chatd_client_command(client, url.database, encoded.pointer, write, &replyPointer, &error)
        var reply = BSONDocument()
        if let replyPointer {
            reply = BSONDocument(reading: replyPointer)
            bson_destroy(replyPointer)
        }
        if !ok || reply["ok"]?.intValue == 0 {
            throw Self.storeError(error: error, reply: reply, url: url)
        }
        return reply
    }

    /// `find` with its cursor drained through `getMore`.
    func find(_ collection: String, filter: BSONDocument, sort: BSONDocument? = nil,
              projection: BSONDocument? = nil, limit: Int = 0) throws(StoreError) -> [BSONDocument] {
        var command: BSONDocument = ["find": .string(collection), "filter": .document(filter)]
        if let sort { command["sort"] = .document(sort) }
        if let projection { command["projection"] = .document(projection) }
        if limit > 0 { command["limit"] = .int64(Int64(limit)) }
        var reply = try self.command(command, write: false)
        var documents = Self.batch(reply, key: "firstBatch")
        while let cursorID = reply.value(at: "cursor.id"), cursorID.intValue ?? 0 != 0 {
            reply = try self.command(["getMore": .int64(Int64(cursorID.intValue ?? 0)),
                                      "collection": .string(collection)], write: false)
            documents += Self.batch(reply, key: "nextBatch")
        }
        return documents
    }

    private static func batch(_ reply: BSONDocument, key: String) -> [BSONDocument] {
        reply.value(at: "cursor.\(key)")?.arrayValue?.compactMap(\.documentValue) ?? []
    }

    /// Checks a write command's reply for `writeErrors`; a duplicate key names its field.
    static func checkWriteErrors(_ reply: BSONDocument) throws(StoreError) {
        guard let first = reply["writeErrors"]?.arrayValue?.first?.documentValue else { return }
        throw writeError(first)
    }

    static func writeError(_ error: BSONDocument) -> StoreError {
        let code = error["code"]?.intValue ?? 0
        if code == duplicateKey { return .conflict(field: duplicateField(error)) }
        return .unavailable("MongoDB write failed with code \(code): \(error["errmsg"]?.stringValue ?? "no message")")
    }

    static let duplicateKey = 11000

    /// The field of a duplicate-key error: from `keyPattern` (MongoDB 4.4+), else `keyValue`.
    static func duplicateField(_ error: BSONDocument) -> String {
        let fromKeys = error["keyPattern"]?.documentValue?.fields.first?.key
            ?? error["keyValue"]?.documentValue?.fields.first?.key
        if let field = fromKeys { return field }
        // Older servers only name the index in the message; our index names are `<field>_1`.
        let message = error["errmsg"]?.stringValue ?? ""
        return message.contains("index: userId_1") ? "userId" : "phone"
    }

    private static func storeError(error: bson_error_t, reply: BSONDocument, url: MongoURL) -> StoreError {
        let serverCode = reply["code"]?.intValue ?? Int(error.code)
        if serverCode == duplicateKey { return .conflict(field: duplicateField(reply)) }
        switch error.domain {
        case MONGOC_ERROR_SERVER_SELECTION.rawValue, MONGOC_ERROR_STREAM.rawValue:
            return .unavailable("no MongoDB server answered at \(url.location)")
        case MONGOC_ERROR_SERVER.rawValue, MONGOC_ERROR_WRITE_CONCERN.rawValue, MONGOC_ERROR_QUERY.rawValue:
            let message = reply["errmsg"]?.stringValue ?? error.text
            return .unavailable("MongoDB error \(serverCode): \(message)")
        default:
            if error.code == 0, let message = reply["errmsg"]?.stringValue {
                return .unavailable("MongoDB error \(serverCode): \(message)")
            }
            return .unavailable("MongoDB driver error: \(error.text)")
        }
    }
}

extension bson_error_t {
    /// The C message buffer as a Swift string.
    var text: String {
        withUnsafeBytes(of: message) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
