import Hummingbird
import Prometheus
import Synchronization

/// Counts requests and their latency by route pattern (not raw path, so ids do not explode the series).
struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ChatMetrics
    /// The registry validates names and labels on every lookup; the few series a router has are kept here.
    private let series = HTTPSeriesMemo()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        let route = context.endpointPath ?? "unmatched"
        let (requests, duration) = series.lookup(method: request.method.rawValue, route: route,
                                                 status: response.status.code, metrics: metrics)
        requests.increment()
        duration.record(ContinuousClock.now - started)
        return response
    }
}

/// `(method, route, status)` → the counter and histogram of that series, as the registry would return them.
final class HTTPSeriesMemo: Sendable {
    private struct Key: Hashable {
        var method: String
        var route: String
        var status: Int
    }

    /// Methods come from clients; past this many series the registry is asked directly (same series, slower).
    static let capacity = 512

    private let known = Mutex<[Key: (Counter, DurationHistogram)]>([:])

    func lookup(method: String, route: String, status: Int, metrics: ChatMetrics) -> (Counter, DurationHistogram) {
        let key = Key(method: method, route: route, status: status)
        if let found = known.withLock({ $0[key] }) { return found }
        let made = (metrics.httpRequests(method: method, route: route, status: status),
                    metrics.httpDuration(method: method, route: route))
        known.withLock { known in
            if known.count < Self.capacity { known[key] = made }
        }
        return made
    }
}
