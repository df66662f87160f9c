import Hummingbird
import Synchronization

/// The paths the router serves and their methods, for answering a known path's unsupported method with
/// 405 and `Allow` instead of the router's 404. Filled from `router.routes` once everything is registered.
final class KnownRoutes: Sendable {
    private struct Route: Sendable {
        /// Literal segments, or nil for a `{parameter}`.
        var segments: [String?]
        var method: String
    }

    private let routes = Mutex<[Route]>([])

    func set(_ descriptions: [(path: String, method: String)]) {
        let parsed = descriptions.map { description in
            Route(segments: Self.segments(description.path).map { $0.hasPrefix("{") || $0.hasPrefix(":") ? nil : $0 },
                  method: description.method)
        }
        routes.withLock { $0 = parsed }
    }

    /// The methods served at `path`, sorted; empty for an unknown path.
    func methods(at path: String) -> [String] {
        let requested = Self.segments(path)
        var methods: Set<String> = []
        for route in routes.withLock({ $0 }) where route.segments.count == requested.count {
            if zip(route.segments, requested).allSatisfy({ $0.0 == nil ? !$0.1.isEmpty : $0.0 == $0.1 }) {
                methods.insert(route.method)
            }
        }
        return methods.sorted()
    }

    private static func segments(_ path: String) -> [String] {
        path.split(separator: "/").map(String.init)
    }
}

extension KnownRoutes {
    /// The router's "no route" for a path that exists under other methods: 405 with `Allow` instead.
    /// Asked by `APIErrorMiddleware`, so it costs a request nothing until it fails.
    func methodNotAllowed(_ error: any Error, _ request: Request) -> APIError? {
        guard let error = error as? HTTPError, error.status == .notFound || error.status == .methodNotAllowed else { return nil }
        let allowed = methods(at: request.uri.path)
        guard !allowed.isEmpty, !allowed.contains(request.method.rawValue) else { return nil }
        return APIError.methodNotAllowed(allow: allowed)
    }
}
