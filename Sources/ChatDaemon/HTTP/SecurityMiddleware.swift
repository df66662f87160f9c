import HTTPTypes
import Hummingbird
import Synchronization

/// Parsed once: building field names per response was a measurable share of a cheap request.
private let securityHeaders: [(HTTPField.Name, String)] = [
    ("Content-Security-Policy", "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Origin-Agent-Cluster", "?1"),
    ("Referrer-Policy", "no-referrer"),
    ("Strict-Transport-Security", "max-age=15552000; includeSubDomains"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-DNS-Prefetch-Control", "off"),
    ("X-Download-Options", "noopen"),
    ("X-Frame-Options", "SAMEORIGIN"),
    ("X-Permitted-Cross-Domain-Policies", "none"),
    ("X-XSS-Protection", "0"),
].map { (HTTPField.Name($0.0)!, $0.1) }

/// The origins CORS allows now (`*` for any). Replaced on reload; the middleware reads it per request,
/// so a new list applies to the next request without rebuilding the router.
public final class AllowedOrigins: Sendable {
    private let origins: Mutex<Set<String>>

    public init(_ origins: some Sequence<String>) { self.origins = Mutex(Set(origins)) }

    public var current: Set<String> { origins.withLock { $0 } }

    public func set(_ newOrigins: some Sequence<String>) {
        let replacement = Set(newOrigins)
        origins.withLock { $0 = replacement }
    }
}

/// The headers every response gets: CORS for the configured origins (`*` for any; preflight requests
/// are answered here) and the ones helmet sets by default. One middleware for both: each one more is
/// an async frame and a context copy on every request.
struct ResponseHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    let origins: AllowedOrigins

    func allowedOrigin(_ origin: String?) -> String? {
        guard let origin else { return nil }
        let origins = origins.current
        if origins.contains("*") { return "*" }
        return origins.contains(origin) ? origin : nil
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await corsHandle(request, context: context, next: next)
        for (field, value) in securityHeaders where response.headers[field] == nil {
            response.headers[field] = value
        }
        return response
    }

    private func corsHandle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let allowed = allowedOrigin(request.headers[.origin])
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            var response = Response(status: .noContent)
            if let allowed {
                response.headers[.accessControlAllowOrigin] = allowed
                response.headers[.accessControlAllowMethods] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
                response.headers[.accessControlAllowHeaders] = "Authorization, Content-Type"
                response.headers[.accessControlMaxAge] = "600"
                if allowed != "*" {
                    response.headers[.vary] = "Origin"
                    // As on the actual response: without it a credentialed request fails its preflight.
                    response.headers[.accessControlAllowCredentials] = "true"
                }
            }
            return response
        }
        var response = try await next(request, context)
        if let allowed {
            response.headers[.accessControlAllowOrigin] = allowed
            if allowed != "*" {
                response.headers[.vary] = "Origin"
                response.headers[.accessControlAllowCredentials] = "true"
            }
        }
        return response
    }
}
