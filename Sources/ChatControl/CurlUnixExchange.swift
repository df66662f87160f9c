import CCurl
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One HTTP/1.1 request/response on chatd's control socket, through libcurl's Unix-socket support
/// (`CURLOPT_UNIX_SOCKET_PATH`): libcurl writes the request and parses the head and the (chunked or
/// sized) body. Blocking: the caller runs it on a thread of its own. The only file of ChatControl that
/// touches C.
enum CurlUnixExchange {
    private static let globalInit: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
    /// `sockaddr_un.sun_path` holds 108 bytes with the terminating NUL on Linux.
    static let maxSocketPathBytes = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// What the callbacks collect; its address is their context while `curl_easy_perform` runs.
    private final class Received {
        var body: [UInt8] = []
        var headers: [String: String] = [:]
    }

    static func perform(socketPath: String, timeoutSeconds: Int, method: String, path: String,
                        headers: [(String, String)], body: [UInt8]) throws(ControlClientError) -> ControlHTTPResponse {
        guard socketPath.utf8.count <= maxSocketPathBytes else {
            throw .transport(socketPath: socketPath, errno: ENAMETOOLONG,
                             "socket path longer than \(maxSocketPathBytes) bytes")
        }
        guard globalInit, let curl = curl_easy_init() else {
            throw .transport(socketPath: socketPath, errno: 0, "libcurl could not be initialised")
        }
        defer { curl_easy_cleanup(curl) }

        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }
        var lines = ["Accept: application/json", "User-Agent: chatctl", "Expect:"]
        if !body.isEmpty { lines.append("Content-Type: application/json") }
        lines += headers.map { "\($0.0): \($0.1)" }
        for line in lines { list = curl_slist_append(list, line) }

        _ = chatd_curl_set_string(curl, CURLOPT_UNIX_SOCKET_PATH, socketPath)
        _ = chatd_curl_set_string(curl, CURLOPT_URL, "http://localhost" + path)
        _ = chatd_curl_set_string(curl, CURLOPT_NOPROXY, "*")
        _ = chatd_curl_set_long(curl, CURLOPT_NOSIGNAL, 1)
        _ = chatd_curl_set_long(curl, CURLOPT_CONNECTTIMEOUT, timeoutSeconds)
        // The daemon may take a while on drain or reload; give up only after `timeoutSeconds` of silence.
        _ = chatd_curl_set_long(curl, CURLOPT_LOW_SPEED_LIMIT, 1)
        _ = chatd_curl_set_long(curl, CURLOPT_LOW_SPEED_TIME, timeoutSeconds)
        _ = chatd_curl_set_pointer(curl, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(list))
        if method != "GET" {
            // A sized body (Content-Length: 0 when empty), then the method's own name.
            _ = chatd_curl_set_long(curl, CURLOPT_POSTFIELDSIZE, body.count)
            body.withUnsafeBytes { raw in
                "".withCString { empty in
                    _ = chatd_curl_set_pointer(curl, CURLOPT_COPYPOSTFIELDS,
                                               UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(empty)))
                }
            }
        }
        _ = chatd_curl_set_string(curl, CURLOPT_CUSTOMREQUEST, method)

        let received = Received()
        let context = Unmanaged.passUnretained(received).toOpaque()
        _ = chatd_curl_set_write_callback(curl) { data, size, count, context in
            let received = Unmanaged<Received>.fromOpaque(context!).takeUnretainedValue()
            let length = size * count
            if let data, length > 0 {
                data.withMemoryRebound(to: UInt8.self, capacity: length) {
                    received.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
                }
            }
            return length
        }
        _ = chatd_curl_set_pointer(curl, CURLOPT_WRITEDATA, context)
        _ = chatd_curl_set_header_callback(curl) { data, size, count, context in
            let received = Unmanaged<Received>.fromOpaque(context!).takeUnretainedValue()
            let length = size * count
            guard let data, length > 0 else { return length }
            let line = data.withMemoryRebound(to: UInt8.self, capacity: length) {
                String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
            }
            if line.hasPrefix("HTTP/") {
                // A new status line (after an interim 1xx answer): its headers start afresh.
                received.headers = [:]
            } else if let colon = line.firstIndex(of: ":") {
                received.headers[line[..<colon].lowercased()] =
                    line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
            }
            return length
        }
        _ = chatd_curl_set_pointer(curl, CURLOPT_HEADERDATA, context)

        let code = withExtendedLifetime(received) { curl_easy_perform(curl) }
        guard code == CURLE_OK else {
            var osErrno = 0
            _ = chatd_curl_getinfo_long(curl, CURLINFO_OS_ERRNO, &osErrno)
            throw failure(code, errno: Int32(osErrno), socketPath: socketPath)
        }
        var status = 0
        _ = chatd_curl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
        return ControlHTTPResponse(status: status, headers: received.headers, body: received.body)
    }

    /// libcurl's result and the socket's errno → the client's error, as the old POSIX client mapped them.
    static func failure(_ code: CURLcode, errno osErrno: Int32, socketPath: String) -> ControlClientError {
        switch code {
        case CURLE_COULDNT_CONNECT:
            switch osErrno {
            case ENOENT, ECONNREFUSED, ENOTDIR: return .notRunning(socketPath: socketPath)
            case EACCES, EPERM: return .permissionDenied(socketPath: socketPath, operatorGroup: nil)
            default: return .transport(socketPath: socketPath, errno: osErrno, "connect: \(describe(osErrno))")
            }
        case CURLE_OPERATION_TIMEDOUT:
            return .timedOut(socketPath: socketPath)
        case CURLE_GOT_NOTHING:
            return .protocolError("chatd closed the connection without answering")
        case CURLE_WEIRD_SERVER_REPLY, CURLE_UNSUPPORTED_PROTOCOL:
            return .protocolError("not an HTTP answer on the control socket")
        default:
            let message = String(cString: curl_easy_strerror(code))
            return .transport(socketPath: socketPath, errno: osErrno, message)
        }
    }

    static func describe(_ code: Int32) -> String { String(cString: strerror(code)) }
}
