import ChatCore
import Hummingbird

/// `/health` answers while the process serves; `/ready` only when every dependency answers and the
/// daemon is not draining (a load balancer must stop sending new sockets to an instance on its way out).
struct HealthRoutes {
    let readiness: Readiness
    var isDraining: @Sendable () -> Bool = { false }

    func register(on router: Router<ChatRequestContext>) {
        router.get("/health") { _, _ in
            JSONResponse.raw(["status": "ok"])
        }
        router.get("/ready") { _, _ in
            let report = await readiness.check()
            let checks = JSONValue.object(report.mapValues { .string($0 ? "up" : "down") })
            let draining = isDraining()
            let ready = !draining && report.values.allSatisfy { $0 }
            let status = draining ? "draining" : ready ? "ready" : "not_ready"
            return JSONResponse.raw(["status": .string(status), "draining": .bool(draining), "checks": checks],
                                    status: ready ? .ok : .serviceUnavailable)
        }
    }
}

/// The dependencies `/ready` asks, each a named async check.
public struct Readiness: Sendable {
    public var checks: [String: @Sendable () async -> Bool]

    public init(checks: [String: @Sendable () async -> Bool] = [:]) { self.checks = checks }

    public func check() async -> [String: Bool] {
        await withTaskGroup(of: (String, Bool).self) { group in
            for (name, probe) in checks { group.addTask { (name, await probe()) } }
            var results: [String: Bool] = [:]
            for await (name, up) in group { results[name] = up }
            return results
        }
    }
}
