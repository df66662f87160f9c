import Hummingbird

/// Counts requests and their latency by route pattern (not raw path, so ids do not explode the series).
struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ChatMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        let route = context.endpointPath ?? "unmatched"
        let method = request.method.rawValue
        metrics.httpRequests(method: method, route: route, status: response.status.code).increment()
        metrics.httpDuration(method: method, route: route).record(ContinuousClock.now - started)
        return response
    }
}
