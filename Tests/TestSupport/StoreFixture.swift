import ChatStore
import Foundation
import Testing

/// The user-store backends a behaviour test runs against.
public enum StoreKind: String, Sendable, CaseIterable, CustomTestStringConvertible {
    /// Real SQLite, in a fresh temporary file.
    case sqlite
    /// The real libmongoc driver against the MongoDB wire stand-in, in a fresh database.
    case mongo

    public var testDescription: String {
        switch self {
        case .sqlite: "SQLite"
        case .mongo: "MongoDB (libmongoc)"
        }
    }
}

/// Fresh, empty stores for tests, removed afterwards.
public enum StoreFixture {
    /// Runs `body` with an empty store of `kind`, then closes it and removes what it created.
    /// A Mongo store uses `MongoStandIn.current` when the test runs under `.mongoStandIn`,
    /// else a stand-in of its own for this call.
    public static func withStore<T>(_ kind: StoreKind,
                                    _ body: (any LegacyUserSeeding) async throws -> T) async throws -> T {
        switch kind {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("chatd-store-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let store = try SQLiteUserStore(path: directory.appendingPathComponent("users.sqlite").path)
            return try await run(store, body)
        case .mongo:
            if let standIn = MongoStandIn.current {
                return try await run(try MongoUserStore(url: standIn.url(database: freshDatabaseName())), body)
            }
            return try await MongoStandIn.with { standIn in
                try await run(try MongoUserStore(url: standIn.url(database: freshDatabaseName())), body)
            }
        }
    }

    /// A database name no other test uses.
    public static func freshDatabaseName() -> String {
        "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
    }

    private static func run<T>(_ store: any LegacyUserSeeding,
                               _ body: (any LegacyUserSeeding) async throws -> T) async throws -> T {
        do {
            let result = try await body(store)
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    }
}
