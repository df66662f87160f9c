@testable import ChatControl
import ChatCTL
import CCurl
import Foundation
import Testing

/// The client maps wire codes back to errors, and chatctl maps those to exit statuses, without reading text.
@Suite("control client errors")
struct ControlClientErrorTests {
    static func response(_ status: Int, _ body: String) -> ControlHTTPResponse {
        ControlHTTPResponse(status: status, headers: [:], body: Array(body.utf8))
    }

    @Test("wire codes become client errors; a 403 carries the operator group for the hint")
    func wireCodes() {
        let forbidden = ControlClient.failure(Self.response(403, #"{"error":"no","code":"forbidden","operatorGroup":"ops"}"#), socketPath: "/s")
        #expect(forbidden == .permissionDenied(socketPath: "/s", operatorGroup: "ops"))
        #expect(forbidden.description.contains("usermod -aG ops"))
        #expect(ControlClient.failure(Self.response(422, #"{"error":"bad","code":"invalid_config"}"#), socketPath: "/s") == .invalidConfig("bad"))
        #expect(ControlClient.failure(Self.response(403, #"{"error":"o","code":"origin_refused"}"#), socketPath: "/s") == .originRefused("o"))
        #expect(ControlClient.failure(Self.response(502, "gateway"), socketPath: "/s") == .server("HTTP 502"))
    }

    @Test("chatctl exits 69 when chatd is not running, 77 when denied, 78 on a refused reload, 65 on a bad request")
    func exitStatuses() {
        #expect(CTLError(ControlClientError.notRunning(socketPath: "/s")).exitStatus == 69)
        #expect(CTLError(ControlClientError.permissionDenied(socketPath: "/s", operatorGroup: nil)).exitStatus == 77)
        #expect(CTLError(ControlClientError.originRefused("o")).exitStatus == 77)
        #expect(CTLError(ControlClientError.invalidConfig("x")).exitStatus == 78)
        #expect(CTLError(ControlClientError.badRequest("x")).exitStatus == 65)
        #expect(CTLError(ControlClientError.timedOut(socketPath: "/s")).exitStatus == 75)
    }

    @Test("libcurl's failures map to the errors chatctl's exit statuses are chosen by")
    func curlFailures() {
        #expect(CurlUnixExchange.failure(CURLE_COULDNT_CONNECT, errno: ENOENT, socketPath: "/s") == .notRunning(socketPath: "/s"))
        #expect(CurlUnixExchange.failure(CURLE_COULDNT_CONNECT, errno: ECONNREFUSED, socketPath: "/s") == .notRunning(socketPath: "/s"))
        #expect(CurlUnixExchange.failure(CURLE_COULDNT_CONNECT, errno: EACCES, socketPath: "/s")
                == .permissionDenied(socketPath: "/s", operatorGroup: nil))
        #expect(CurlUnixExchange.failure(CURLE_OPERATION_TIMEDOUT, errno: 0, socketPath: "/s") == .timedOut(socketPath: "/s"))
        #expect(CurlUnixExchange.failure(CURLE_GOT_NOTHING, errno: 0, socketPath: "/s")
                == .protocolError("chatd closed the connection without answering"))
    }
}
