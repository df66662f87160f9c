import ChatCore
import Foundation

/// What one migration did or would do.
public struct MigrationReport: Sendable, Equatable {
    public var id: String
    /// Rows changed, or that would change under a dry run.
    public var affected: Int
    public var dryRun: Bool
}

/// One recorded step of the store's evolution. Runs must be idempotent: a re-run after a crash
/// finishes the work instead of redoing it.
public struct Migration: Sendable {
    public let id: String
    public let summary: String
    let apply: @Sendable (any UserStore, _ dryRun: Bool, _ progress: @Sendable (Int, Int) -> Void) async throws -> Int
}

/// The ordered list of migrations and the logic to run them against a store's ledger.
public struct MigrationPlan: Sendable {
    public let migrations: [Migration]

    public static let standard = MigrationPlan(migrations: [.addUserID])

    public init(migrations: [Migration]) { self.migrations = migrations }

    public func migration(id: String) -> Migration? { migrations.first { $0.id == id } }

    /// Each migration with its applied date, or nil when pending.
    public func status(of store: any UserStore) async throws -> [(Migration, Date?)] {
        let applied = Dictionary(try await store.appliedMigrations().map { ($0.id, $0.appliedAt) },
                                 uniquingKeysWith: { first, _ in first })
        return migrations.map { ($0, applied[$0.id]) }
    }

    /// Runs every pending migration in order and records it, unless `dryRun`.
    public func up(_ store: any UserStore, dryRun: Bool,
                   progress: @escaping @Sendable (String, Int, Int) -> Void = { _, _, _ in }) async throws -> [MigrationReport] {
        var reports: [MigrationReport] = []
        for (migration, appliedAt) in try await status(of: store) where appliedAt == nil {
            reports.append(try await run(migration, on: store, dryRun: dryRun, progress: progress))
        }
        return reports
    }

    /// Runs one migration whether or not the ledger has it (each is idempotent) and records it.
    public func run(_ migration: Migration, on store: any UserStore, dryRun: Bool,
                    progress: @escaping @Sendable (String, Int, Int) -> Void = { _, _, _ in }) async throws -> MigrationReport {
        let affected = try await migration.apply(store, dryRun) { done, total in progress(migration.id, done, total) }
        if !dryRun {
            try await store.recordMigration(MigrationRecord(id: migration.id, appliedAt: Date()))
        }
        return MigrationReport(id: migration.id, affected: affected, dryRun: dryRun)
    }
}

extension Migration {
    /// The seed's add-userId: every user without a `userId` gets a fresh `usr_XXXXXXXX`.
    public static let addUserID = Migration(
        id: "0001-add-userid",
        summary: "give every user without a userId a fresh unique usr_XXXXXXXX"
    ) { store, dryRun, progress in
        let total = try await store.countUsersWithoutUserID()
        if dryRun || total == 0 { return total }
        var done = 0
        while true {
            let changed = try await store.assignMissingUserIDs(limit: 1000) { UserID.generate() }
            if changed == 0 { break }
            done += changed
            progress(done, total)
        }
        return done
    }
}
