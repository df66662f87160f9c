import CCurl
import Dispatch
import Synchronization

/// One HTTP exchange as the transport sees it.
struct HTTPExchange: Sendable {
    enum Method: String, Sendable {
        case get = "GET", post = "POST", put = "PUT", patch = "PATCH", delete = "DELETE"
    }

    var method: Method
    var url: String
    var headers: [String]
    var body: [UInt8]?
}

struct HTTPAnswer: Sendable {
    var status: Int
    var body: [UInt8]
}

/// HTTP over libcurl's easy interface. Blocking `curl_easy_perform` calls run on a dedicated concurrent
/// dispatch queue (never on a Swift-concurrency or NIO thread) and are bridged back with a continuation.
/// Easy handles are pooled and reused, so their connection caches keep connections to Chat3 alive.
final class CurlTransport: Sendable {
    /// A curl easy handle. Unchecked because a handle is used by one thread at a time: it is either idle in
    /// `idle` (under the mutex) or owned by the single job that checked it out.
    private struct EasyHandle: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
    }

    private static let globalInit: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    /// Responses above this size are refused rather than buffered.
    static let maxResponseBytes = 8 << 20

    private let queue = DispatchQueue(label: "chatd.chat3.curl", qos: .userInitiated, attributes: .concurrent)
    private let idle = Mutex<[EasyHandle]>([])
    private let maxIdle: Int
    private let connectTimeoutMs: Int
    private let requestTimeoutMs: Int

    init(connectTimeout: Double, requestTimeout: Double, maxIdleConnections: Int) {
        _ = Self.globalInit
        connectTimeoutMs = max(1, Int(connectTimeout * 1000))
        requestTimeoutMs = max(1, Int(requestTimeout * 1000))
        maxIdle = max(1, maxIdleConnections)
    }

    deinit {
        for handle in idle.withLock({ $0 }) { curl_easy_cleanup(handle.pointer) }
    }

    func perform(_ exchange: HTTPExchange) async -> Result<HTTPAnswer, Chat3Error> {
        await withCheckedContinuation { continuation in
            queue.async { [self] in continuation.resume(returning: performBlocking(exchange)) }
        }
    }

    private func checkOut() -> EasyHandle? {
        if let handle = idle.withLock({ $0.popLast() }) { return handle }
        return curl_easy_init().map(EasyHandle.init)
    }

    private func checkIn(_ handle: EasyHandle, healthy: Bool) {
        let kept = healthy && idle.withLock { handles in
            guard handles.count < maxIdle else { return false }
            handles.append(handle)
            return true
        }
        if !kept { curl_easy_cleanup(handle.pointer) }
    }

    /// Runs on `queue`.
    private func performBlocking(_ exchange: HTTPExchange) -> Result<HTTPAnswer, Chat3Error> {
        guard let handle = checkOut() else { return .failure(.unavailable) }
        let curl = handle.pointer
        // Reset clears options but keeps the handle's live connections and caches.
        curl_easy_reset(curl)
        let sink = ResponseSink()
        let sinkPointer = Unmanaged.passUnretained(sink).toOpaque()
        var headerList: UnsafeMutablePointer<curl_slist>?
        for header in exchange.headers { headerList = curl_slist_append(headerList, header) }
        // No `Expect: 100-continue` round trip before larger bodies.
        headerList = curl_slist_append(headerList, "Expect:")
        defer { curl_slist_free_all(headerList) }

        _ = chatd_curl_set_string(curl, CURLOPT_URL, exchange.url)
        _ = chatd_curl_set_long(curl, CURLOPT_NOSIGNAL, 1)
        _ = chatd_curl_set_long(curl, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMs)
        _ = chatd_curl_set_long(curl, CURLOPT_TIMEOUT_MS, requestTimeoutMs)
        _ = chatd_curl_set_long(curl, CURLOPT_TCP_KEEPALIVE, 1)
        _ = chatd_curl_set_long(curl, CURLOPT_TCP_NODELAY, 1)
        _ = chatd_curl_set_long(curl, CURLOPT_FOLLOWLOCATION, 0)
        _ = chatd_curl_set_string(curl, CURLOPT_CUSTOMREQUEST, exchange.method.rawValue)
        _ = chatd_curl_set_pointer(curl, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(headerList))
        _ = chatd_curl_set_write_callback(curl) { data, size, count, context in
            let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
            let length = size * count
            guard sink.bytes.count + length <= CurlTransport.maxResponseBytes else { return 0 }
            if let data, length > 0 {
                data.withMemoryRebound(to: UInt8.self, capacity: length) {
                    sink.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
                }
            }
            return length
        }
        _ = chatd_curl_set_pointer(curl, CURLOPT_WRITEDATA, sinkPointer)
        if let body = exchange.body {
            _ = chatd_curl_set_long(curl, CURLOPT_POSTFIELDSIZE, body.count)
            // COPYPOSTFIELDS copies exactly POSTFIELDSIZE bytes, so the body need not be NUL-terminated.
            body.withUnsafeBytes { raw in
                _ = chatd_curl_set_pointer(curl, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress))
            }
        }

        let code = curl_easy_perform(curl)
        guard code == CURLE_OK else {
            // A failed handle may hold a half-used connection; drop it rather than reuse it.
            checkIn(handle, healthy: false)
            return .failure(Self.classify(code))
        }
        var status = 0
        _ = chatd_curl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
        checkIn(handle, healthy: true)
        return .success(HTTPAnswer(status: status, body: sink.bytes))
    }

    static func classify(_ code: CURLcode) -> Chat3Error {
        switch code {
        case CURLE_OPERATION_TIMEDOUT: .timeout
        case CURLE_WRITE_ERROR: .invalidResponse
        default: .unavailable
        }
    }
}

/// Collects a response body; touched only by the thread running the transfer.
private final class ResponseSink {
    var bytes: [UInt8] = []
}
