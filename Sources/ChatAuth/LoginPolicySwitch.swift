import Synchronization

/// The login policy in effect, replaceable while chatd runs (reload, SIGHUP). `LoginService` reads it
/// once per request, so one request never mixes the old and the new limits.
public final class LoginPolicySwitch: Sendable {
    private let policy: Mutex<LoginPolicy>

    public init(_ policy: LoginPolicy) { self.policy = Mutex(policy) }

    public var current: LoginPolicy { policy.withLock { $0 } }

    /// Replaces the policy and returns the previous one.
    @discardableResult
    public func set(_ newPolicy: LoginPolicy) -> LoginPolicy {
        policy.withLock { policy in
            let previous = policy
            policy = newPolicy
            return previous
        }
    }
}
