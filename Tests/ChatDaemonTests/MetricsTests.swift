import ChatCore
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport

@Suite("Metrics")
struct MetricsTests {
    @Test("/metrics reports HTTP requests by route and status and login counters after traffic")
    func afterTraffic() async throws {
        let h = try await DaemonHarness()
        try await h.test { client in
            _ = try await client.post("/api/auth/request-code", #"{"phone":"79001234567","name":"Ann"}"#)
            _ = try await client.post("/api/auth/request-code", #"{"phone":"79001234567"}"#)
            _ = try await client.post("/api/auth/verify-code", #"{"phone":"79001234567","code":"0000"}"#)
            _ = try await client.get("/health")
            _ = try await client.get("/health")
            let response = try await client.get("/metrics")
            #expect(response.status == .ok)
            let text = String(buffer: response.body)
            #expect(text.contains(#"chatd_http_requests_total{method="GET",route="/health",status="200"} 2"#), "\(text)")
            #expect(text.contains(#"chatd_http_requests_total{method="POST",route="/api/auth/request-code",status="429"} 1"#))
            #expect(text.contains("chatd_auth_codes_issued_total 1"))
            #expect(text.contains(#"chatd_auth_codes_failed_total{reason="rate_limited"} 1"#))
            #expect(text.contains("chatd_http_request_duration_seconds_bucket"))
        }
        await h.cleanUp()
    }
}
