import ChatCore
import Synchronization

/// Users' display names for events whose source carries none: Chat3 keeps no names, so the
/// `dialog.typing` update behind `POST /api/dialogs/:id/typing` names the typer by id only. Names come
/// from chatd's user store and are remembered for `lifetime`, so a rename shows within that time.
public final class UserNames: Sendable {
    public typealias Lookup = @Sendable (UserID) async -> String?

    private let lookup: Lookup
    private let lifetime: Duration
    private let capacity: Int
    private let names = Mutex<[UserID: (name: String, expires: ContinuousClock.Instant)]>([:])

    public init(lifetime: Duration = .seconds(60), capacity: Int = 100_000, lookup: @escaping Lookup) {
        self.lookup = lookup
        self.lifetime = lifetime
        self.capacity = capacity
    }

    public func name(of user: UserID) async -> String? {
        let now = ContinuousClock.now
        if let cached = names.withLock({ $0[user] }), cached.expires > now { return cached.name }
        guard let name = await lookup(user) else { return nil }
        names.withLock { names in
            if names.count >= capacity { names = names.filter { $0.value.expires > now } }
            if names.count < capacity { names[user] = (name, now + lifetime) }
        }
        return name
    }

    /// `typing:update` with the typer's `userName` filled in when the payload lacks it.
    func completing(_ event: String, _ payload: JSONValue) async -> JSONValue {
        guard event == "typing:update", case .object(var object) = payload, object["userName"] == nil,
              let typer = object["userId"]?.stringValue.flatMap(UserID.init(rawValue:)),
              let name = await name(of: typer) else { return payload }
        object["userName"] = .string(name)
        return .object(object)
    }
}
