import Foundation
import Prometheus

/// Every series chatd exports on `/metrics`, named `chatd_*`, in one Prometheus registry owned by the
/// daemon (no process-wide state, so tests can build as many daemons as they like).
public final class ChatMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    // Real-time and pipeline gauges are set at scrape time from their owners (see `gauges`).
    public let websocketConnections: Gauge
    public let usersOnline: Gauge
    public let amqpSubscriptions: Gauge

    public let updatesReceived: Counter
    public let updatesDelivered: Counter
    public let updateDeliverySeconds: DurationHistogram
    /// Updates a socket closed before writing, handed out again (to the user's sockets or queue).
    public let updatesUnwritten: Counter

    public let authCodesIssued: Counter

    /// 1 while a dependency answers (`rabbitmq`, `store`, `chat3`), set at scrape time.
    public let dependencyUp: [String: Gauge]
    /// The Chat3 circuit breaker, one series per state: 1 for the current one.
    public let chat3Breaker: [String: Gauge]

    /// Every label value each labelled counter can take, so each series exists at 0 from the start and
    /// `rate()` and `absent()` alerts work before the first event. Keep in step with the callers:
    /// UpdatePipeline (dropped), AuthRoutes.reason (failed), Chat3Error.label and the breaker (chat3 errors).
    static let knownDropReasons = ["malformed", "tenant", "other_user", "duplicate", "no_socket"]
    static let knownAuthFailures = ["name_required", "disabled", "invalid_code", "expired", "too_many_attempts",
                                    "rate_limited", "sender", "token"]
    static let knownChat3Errors = ["unavailable", "timeout", "not_found", "forbidden", "bad_request", "conflict",
                                   "rate_limited", "unauthorized", "server", "invalid_response", "breaker_open"]
    static let dependencies = ["rabbitmq", "store", "chat3"]
    static let breakerStates = ["closed", "open", "half_open"]

    let latencyBuckets: [Duration] = [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
                                      .milliseconds(20), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                                      .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10)]

    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        websocketConnections = registry.makeGauge(name: "chatd_websocket_connections", help: "Open Socket.IO sessions")
        usersOnline = registry.makeGauge(name: "chatd_users_online", help: "Users with at least one socket here")
        amqpSubscriptions = registry.makeGauge(name: "chatd_amqp_subscriptions", help: "Per-user update subscriptions")
        updatesReceived = registry.makeCounter(name: "chatd_updates_received_total", help: "Chat3 updates consumed")
        updatesDelivered = registry.makeCounter(name: "chatd_updates_delivered_total",
                                                help: "Updates written to every live socket of their user, then acked")
        updateDeliverySeconds = registry.makeDurationHistogram(
            name: "chatd_update_delivery_seconds", buckets: latencyBuckets,
            help: "Time from consuming an update to its frames being written to the user's sockets")
        updatesUnwritten = registry.makeCounter(
            name: "chatd_updates_unwritten_total",
            help: "Updates a socket's session ended before writing; not acked, handed out again")
        authCodesIssued = registry.makeCounter(name: "chatd_auth_codes_issued_total", help: "One-time codes sent")
        registry.makeGauge(name: "chatd_build_info", labels: [("version", ChatdVersion.current)],
                           help: "Always 1; the version label says which build runs").set(to: 1)
        dependencyUp = Dictionary(uniqueKeysWithValues: Self.dependencies.map { name in
            (name, registry.makeGauge(name: "chatd_dependency_up", labels: [("dependency", name)],
                                      help: "1 while the dependency answers, 0 while it does not"))
        })
        chat3Breaker = Dictionary(uniqueKeysWithValues: Self.breakerStates.map { state in
            (state, registry.makeGauge(name: "chatd_chat3_breaker_state", labels: [("state", state)],
                                       help: "The Chat3 circuit breaker: 1 for its current state"))
        })
        for reason in Self.knownDropReasons { _ = updatesDropped(reason) }
        for reason in Self.knownAuthFailures { _ = authCodesFailed(reason) }
        for kind in Self.knownChat3Errors { _ = chat3Errors(kind: kind) }
    }

    /// Updates dropped, by reason (`malformed`, `tenant`, `duplicate`, `other_user`).
    public func updatesDropped(_ reason: String) -> Counter {
        registry.makeCounter(name: "chatd_updates_dropped_total", labels: [("reason", reason)],
                             help: "Updates not delivered, by reason")
    }

    /// Socket.IO sessions chatd ended itself, by reason (`outbox_overflow`).
    public func sessionsClosed(_ reason: String) -> Counter {
        registry.makeCounter(name: "chatd_socket_sessions_closed_total", labels: [("reason", reason)],
                             help: "Socket sessions the server closed, by reason")
    }

    /// Failed login steps, by reason (`invalid_code`, `expired`, `too_many_attempts`, `rate_limited`, `sender`).
    public func authCodesFailed(_ reason: String) -> Counter {
        registry.makeCounter(name: "chatd_auth_codes_failed_total", labels: [("reason", reason)],
                             help: "Failed code requests and verifications, by reason")
    }

    /// A limit was hit (`ServerLimits`): a connection, session, socket or request refused or closed.
    public func limitHits(_ limit: String) -> Counter {
        registry.makeCounter(name: "chatd_limit_hits_total", labels: [("limit", limit)],
                             help: "Connections, sessions, sockets or requests refused or closed by a limit, by limit")
    }

    public func httpRequests(method: String, route: String, status: Int) -> Counter {
        registry.makeCounter(name: "chatd_http_requests_total",
                             labels: [("method", method), ("route", route), ("status", String(status))],
                             help: "HTTP requests by route and status")
    }

    public func httpDuration(method: String, route: String) -> DurationHistogram {
        registry.makeDurationHistogram(name: "chatd_http_request_duration_seconds",
                                       labels: [("method", method), ("route", route)], buckets: latencyBuckets,
                                       help: "HTTP request latency by route")
    }

    public func chat3Duration(operation: String) -> DurationHistogram {
        registry.makeDurationHistogram(name: "chatd_chat3_request_duration_seconds", labels: [("operation", operation)],
                                       buckets: latencyBuckets, help: "Chat3 request latency by operation")
    }

    public func chat3Errors(kind: String) -> Counter {
        registry.makeCounter(name: "chatd_chat3_errors_total", labels: [("kind", kind)], help: "Chat3 request failures by kind")
    }

    /// The Prometheus text exposition.
    public func render() -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        let process = ProcessMetrics.sample().map(ProcessMetrics.render) ?? ""
        return String(decoding: buffer, as: UTF8.self) + process
    }

    /// Dependency gauges, set at scrape time. Chat3 counts as up unless its breaker is open: asking it
    /// on every scrape would load it.
    public func recordDependencies(rabbitMQ: Bool, store: Bool, chat3Breaker state: String) {
        dependencyUp["rabbitmq"]?.set(to: rabbitMQ ? 1 : 0)
        dependencyUp["store"]?.set(to: store ? 1 : 0)
        dependencyUp["chat3"]?.set(to: state == "open" ? 0 : 1)
        for (name, gauge) in chat3Breaker { gauge.set(to: name == state ? 1 : 0) }
    }
}
