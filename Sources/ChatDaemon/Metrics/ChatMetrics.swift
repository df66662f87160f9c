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
        return String(decoding: buffer, as: UTF8.self)
    }
}
