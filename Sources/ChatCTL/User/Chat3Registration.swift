import Chat3Client
import ChatConfig
import ChatCore
import Logging

/// "Also registered in Chat3 when reachable" (SPEC §9) for users chatctl writes, as chatd does for users
/// created at login. The store is the record: a Chat3 failure is a warning, never a failed command
/// (Chat3 also creates a user when they are added to a dialog).
struct Chat3Registration {
    let client: Chat3Client
    let baseURL: String

    /// From the keys chatd reads (chat3.url, chat3.api_key, chat3.tenant, chat3.*_timeout), checked before
    /// anything is written.
    static func make(_ global: GlobalOptions, _ context: CTLContext) throws -> Chat3Registration {
        let chat3 = try global.loader(context).chat3Settings()
        let configuration = Chat3ClientConfiguration(baseURL: chat3.url, apiKey: chat3.apiKey, tenant: chat3.tenant,
                                                     connectTimeout: chat3.connectTimeout, requestTimeout: chat3.requestTimeout)
        return Chat3Registration(client: Chat3Client(configuration: configuration, logger: Logger(label: "chatctl.chat3")),
                                 baseURL: chat3.url)
    }

    /// Registers `user` (one already there is fine); on failure, one warning on stderr naming the problem.
    func register(_ user: UserID, verbose: Bool, _ context: CTLContext) async {
        do {
            let created = try await client.createUser(user)
            if verbose { context.log("chatctl: \(user) \(created ? "registered" : "was already registered") in Chat3") }
        } catch {
            context.log("chatctl: warning: \(user) is in the store but not registered in Chat3 at \(baseURL): "
                        + "\(Self.describe(error)); Chat3 adds the user when they join a dialog")
        }
    }

    static func describe(_ error: Chat3Error) -> String {
        switch error {
        case .unavailable: "Chat3 cannot be reached"
        case .timeout: "Chat3 did not answer in time"
        case .unauthorized: "Chat3 refused the API key or tenant (chat3.api_key, chat3.tenant)"
        case .forbidden: "Chat3 refused the request (403)"
        case .badRequest(let field): "Chat3 refused the user" + (field.map { " (field \($0))" } ?? "")
        case .notFound: "no Chat3 users endpoint at this URL (404)"
        case .rateLimited: "Chat3 asked to slow down (429)"
        case .server(let status): "Chat3 answered \(status)"
        case .invalidResponse: "Chat3's answer was not the expected JSON"
        case .conflict: "the user already exists in Chat3"
        }
    }
}
