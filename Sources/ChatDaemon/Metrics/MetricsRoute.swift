import Hummingbird
import NIOCore

/// `GET /metrics`: Prometheus text exposition. Gauges owned by other parts are refreshed by `refresh`.
struct MetricsRoute {
    let metrics: ChatMetrics
    var refresh: @Sendable () async -> Void = {}

    func register(on router: Router<ChatRequestContext>) {
        router.get("/metrics") { _, _ in
            await refresh()
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
        }
    }
}
