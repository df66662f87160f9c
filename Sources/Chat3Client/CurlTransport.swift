import CCurl
import Foundation
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

/// HTTP over libcurl's multi interface. Every transfer runs on one dedicated thread that owns the multi
/// handle and waits in `curl_multi_poll`; callers hand their exchange over and await a continuation, so no
/// Swift-concurrency, NIO or dispatch thread ever blocks on the network, and any number of calls are in
/// flight at once. The multi handle's connection cache keeps connections to Chat3 alive across calls;
/// `maxConnections` bounds both the connections open to one host (further transfers wait in curl's queue)
/// and those kept idle.
final class CurlTransport: Sendable {
    private let engine: CurlMultiEngine

    /// Responses above this size are refused rather than buffered.
    static let maxResponseBytes = 8 << 20

    init(connectTimeout: Double, requestTimeout: Double, maxConnections: Int) {
        engine = CurlMultiEngine(connectTimeoutMs: max(1, Int(connectTimeout * 1000)),
                                 requestTimeoutMs: max(1, Int(requestTimeout * 1000)),
                                 maxConnections: max(1, maxConnections))
    }

    deinit { engine.shutdown() }

    func perform(_ exchange: HTTPExchange) async -> Result<HTTPAnswer, Chat3Error> {
        await withCheckedContinuation { continuation in engine.submit(exchange, continuation) }
    }

    static func classify(_ code: CURLcode) -> Chat3Error {
        switch code {
        case CURLE_OPERATION_TIMEDOUT: .timeout
        case CURLE_WRITE_ERROR: .invalidResponse
        default: .unavailable
        }
    }
}

/// The multi handle and its thread. Unchecked: everything but `inbox` is touched only by that thread;
/// `inbox` is a mutex, and `curl_multi_wakeup` is the one call libcurl allows from other threads (made
/// under the mutex, so it never races the thread's final cleanup).
private final class CurlMultiEngine: @unchecked Sendable {
    typealias Continuation = CheckedContinuation<Result<HTTPAnswer, Chat3Error>, Never>

    private struct Job {
        var exchange: HTTPExchange
        var continuation: Continuation
    }

    private struct Inbox {
        var jobs: [Job] = []
        var stopping = false
        /// Set by the thread once the multi handle is gone.
        var closed = false
    }

    /// One transfer in flight; its address is the write callback's context.
    private final class Transfer {
        let continuation: Continuation
        var bytes: [UInt8] = []
        var headers: UnsafeMutablePointer<curl_slist>?

        init(_ continuation: Continuation) { self.continuation = continuation }
    }

    private static let globalInit: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    private let inbox = Mutex(Inbox())
    private let multi: UnsafeMutableRawPointer?
    private let connectTimeoutMs: Int
    private let requestTimeoutMs: Int
    private let maxIdleHandles: Int
    // Thread-confined.
    private var idle: [UnsafeMutableRawPointer] = []
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]

    init(connectTimeoutMs: Int, requestTimeoutMs: Int, maxConnections: Int) {
        _ = Self.globalInit
        self.connectTimeoutMs = connectTimeoutMs
        self.requestTimeoutMs = requestTimeoutMs
        maxIdleHandles = maxConnections
        multi = curl_multi_init()
        if let multi {
            _ = chatd_curl_multi_set_long(multi, CURLMOPT_MAXCONNECTS, maxConnections)
            _ = chatd_curl_multi_set_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, maxConnections)
            let thread = Thread { [self] in run() }
            thread.name = "chatd.chat3.curl"
            thread.start()
        } else {
            inbox.withLock { $0.closed = true }
        }
    }

    func submit(_ exchange: HTTPExchange, _ continuation: Continuation) {
        let accepted = inbox.withLock { inbox in
            guard !inbox.stopping, !inbox.closed, let multi else { return false }
            inbox.jobs.append(Job(exchange: exchange, continuation: continuation))
            // Only the first job of a batch needs to wake the thread.
            if inbox.jobs.count == 1 { _ = curl_multi_wakeup(multi) }
            return true
        }
        if !accepted { continuation.resume(returning: .failure(.unavailable)) }
    }

    /// Fails what is queued or in flight with `unavailable` and ends the thread.
    func shutdown() {
        inbox.withLock { inbox in
            inbox.stopping = true
            if !inbox.closed, let multi { _ = curl_multi_wakeup(multi) }
        }
    }

    // MARK: The thread

    private func run() {
        guard let multi else { return }
        while true {
            var jobs: [Job] = []
            let stopping = inbox.withLock { inbox in
                swap(&jobs, &inbox.jobs)
                return inbox.stopping
            }
            if stopping {
                for job in jobs { job.continuation.resume(returning: .failure(.unavailable)) }
                close(multi)
                return
            }
            for job in jobs { start(job, on: multi) }
            var running: Int32 = 0
            _ = curl_multi_perform(multi, &running)
            collect(multi)
            var ready: Int32 = 0
            // libcurl shortens the wait to its own next timeout; `curl_multi_wakeup` ends it early.
            _ = curl_multi_poll(multi, nil, 0, 1000, &ready)
        }
    }

    private func start(_ job: Job, on multi: UnsafeMutableRawPointer) {
        guard let curl = idle.popLast() ?? curl_easy_init() else {
            job.continuation.resume(returning: .failure(.unavailable))
            return
        }
        // Reset clears options; connections live in the multi handle's cache, not in the easy handle.
        curl_easy_reset(curl)
        let transfer = Transfer(job.continuation)
        let exchange = job.exchange
        for header in exchange.headers { transfer.headers = curl_slist_append(transfer.headers, header) }
        // No `Expect: 100-continue` round trip before larger bodies.
        transfer.headers = curl_slist_append(transfer.headers, "Expect:")

        _ = chatd_curl_set_string(curl, CURLOPT_URL, exchange.url)
        _ = chatd_curl_set_long(curl, CURLOPT_NOSIGNAL, 1)
        _ = chatd_curl_set_long(curl, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMs)
        _ = chatd_curl_set_long(curl, CURLOPT_TIMEOUT_MS, requestTimeoutMs)
        _ = chatd_curl_set_long(curl, CURLOPT_TCP_KEEPALIVE, 1)
        _ = chatd_curl_set_long(curl, CURLOPT_TCP_NODELAY, 1)
        _ = chatd_curl_set_long(curl, CURLOPT_FOLLOWLOCATION, 0)
        _ = chatd_curl_set_string(curl, CURLOPT_CUSTOMREQUEST, exchange.method.rawValue)
        _ = chatd_curl_set_pointer(curl, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(transfer.headers))
        _ = chatd_curl_set_write_callback(curl) { data, size, count, context in
            let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
            let length = size * count
            guard transfer.bytes.count + length <= CurlTransport.maxResponseBytes else { return 0 }
            if let data, length > 0 {
                data.withMemoryRebound(to: UInt8.self, capacity: length) {
                    transfer.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
                }
            }
            return length
        }
        // `active` holds the transfer until it is done, so the unretained pointer stays valid.
        _ = chatd_curl_set_pointer(curl, CURLOPT_WRITEDATA, Unmanaged.passUnretained(transfer).toOpaque())
        if let body = exchange.body {
            _ = chatd_curl_set_long(curl, CURLOPT_POSTFIELDSIZE, body.count)
            // COPYPOSTFIELDS copies exactly POSTFIELDSIZE bytes, so the body need not be NUL-terminated.
            body.withUnsafeBytes { raw in
                _ = chatd_curl_set_pointer(curl, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress))
            }
        }
        active[curl] = transfer
        if curl_multi_add_handle(multi, curl) != CURLM_OK {
            active[curl] = nil
            curl_slist_free_all(transfer.headers)
            curl_easy_cleanup(curl)
            transfer.continuation.resume(returning: .failure(.unavailable))
        }
    }

    private func collect(_ multi: UnsafeMutableRawPointer) {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let curl = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            _ = curl_multi_remove_handle(multi, curl)
            guard let transfer = active.removeValue(forKey: curl) else { continue }
            curl_slist_free_all(transfer.headers)
            transfer.headers = nil
            guard code == CURLE_OK else {
                curl_easy_cleanup(curl)
                transfer.continuation.resume(returning: .failure(CurlTransport.classify(code)))
                continue
            }
            var status = 0
            _ = chatd_curl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
            if idle.count < maxIdleHandles { idle.append(curl) } else { curl_easy_cleanup(curl) }
            transfer.continuation.resume(returning: .success(HTTPAnswer(status: status, body: transfer.bytes)))
        }
    }

    private func close(_ multi: UnsafeMutableRawPointer) {
        for (curl, transfer) in active {
            _ = curl_multi_remove_handle(multi, curl)
            curl_easy_cleanup(curl)
            curl_slist_free_all(transfer.headers)
            transfer.continuation.resume(returning: .failure(.unavailable))
        }
        active.removeAll()
        for curl in idle { curl_easy_cleanup(curl) }
        idle.removeAll()
        let late = inbox.withLock { inbox in
            inbox.closed = true
            var jobs: [Job] = []
            swap(&jobs, &inbox.jobs)
            return jobs
        }
        for job in late { job.continuation.resume(returning: .failure(.unavailable)) }
        curl_multi_cleanup(multi)
    }
}
