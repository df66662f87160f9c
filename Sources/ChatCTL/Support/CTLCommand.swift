import ArgumentParser
import ChatConfig
import ChatStore

/// A chatctl command: parsed by ArgumentParser, run with an injected context.
public protocol CTLCommand: AsyncParsableCommand {
    func run(_ context: CTLContext) async throws
}

extension CTLCommand {
    /// ArgumentParser's entry point, never taken: `ChatctlMain.run` calls `run(_:)` with the context the
    /// executable built (the library reads no environment of its own).
    public func run() async throws {
        throw CTLError.failure("internal: \(Self.self) was run without a context")
    }
}

/// Options every command accepts.
public struct GlobalOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: "Config file (same as chatd's; default /etc/chatd/chatd.toml).")
    public var config: String?

    @Option(name: .long, help: "Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).")
    public var store: String?

    @Option(name: .long, help: "Control socket of a running chatd (or CHATD_CONTROL_SOCKET).")
    public var socket: String?

    @Flag(name: .customLong("create-store"), help: "Create the SQLite store when it does not exist (chatd creates it on its first start).")
    public var create = false

    @Flag(name: .long, help: "Print results as JSON.")
    public var json = false

    @Flag(name: .shortAndLong, help: "Log more on stderr.")
    public var verbose = false

    public init() {}

    func loader(_ context: CTLContext) -> ConfigLoader {
        var flags: [String: String] = [:]
        flags["config"] = config
        flags["store"] = store
        flags["control-socket"] = socket
        return ConfigLoader(flags: flags, environment: context.environment)
    }

    /// Opens the user store the config names; chatctl needs no JWT or SMS settings for this. An existing
    /// store only, unless `--create`: a mistyped path must not become a new, empty store.
    func openStore(_ context: CTLContext) async throws -> any UserStore {
        let loader = loader(context)
        let url = try loader.storeURL()
        let group = try loader.resolve()["control.operator_group"]?.value
        return try await StoreOpener.open(try StoreLocation(parsing: url), create: create, group: group)
    }
}
