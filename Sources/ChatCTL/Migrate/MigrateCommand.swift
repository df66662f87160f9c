import ArgumentParser
import ChatStore
import Foundation

public struct MigrateCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Show and apply the store's recorded migrations.",
        subcommands: [MigrateStatus.self, MigrateUp.self, MigrateAddUserID.self])
    public init() {}
}

struct MigrationOutput: Encodable {
    let id: String
    let affected: Int
    let dryRun: Bool
}

enum MigrationPrinter {
    static func print(_ reports: [MigrationReport], json: Bool, _ context: CTLContext) {
        if json {
            context.print(Output.json(reports.map { MigrationOutput(id: $0.id, affected: $0.affected, dryRun: $0.dryRun) }))
            return
        }
        if reports.isEmpty { context.print("nothing to migrate"); return }
        for report in reports {
            context.print("\(report.id): \(report.affected) \(report.dryRun ? "would change" : "changed")")
        }
    }

    /// Progress goes to stderr, at most every 1,000 rows, so stdout stays the result.
    static func progress(_ context: CTLContext) -> @Sendable (String, Int, Int) -> Void {
        { id, done, total in context.log("\(id): \(done)/\(total)") }
    }
}

struct MigrateStatus: CTLCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "List migrations and whether each is applied.")

    @OptionGroup var global: GlobalOptions

    func run(_ context: CTLContext) async throws {
        let store = try await global.openStore(context)
        defer { Task { await store.close() } }
        let status = try await MigrationPlan.standard.status(of: store)
        let withoutID = try await store.countUsersWithoutUserID()
        if global.json {
            struct Row: Encodable { let id: String; let summary: String; let appliedAt: Date? }
            struct Status: Encodable { let migrations: [Row]; let usersWithoutUserId: Int }
            context.print(Output.json(Status(migrations: status.map { Row(id: $0.0.id, summary: $0.0.summary, appliedAt: $0.1) },
                                             usersWithoutUserId: withoutID)))
        } else {
            context.print(Output.table(["MIGRATION", "APPLIED", "SUMMARY"], status.map {
                [$0.0.id, $0.1.map { Output.date($0) } ?? "pending", $0.0.summary]
            }))
            context.print("users without userId: \(withoutID)")
        }
    }
}

struct MigrateUp: CTLCommand {
    static let configuration = CommandConfiguration(commandName: "up", abstract: "Apply every pending migration, in order.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Report what would change without changing anything.") var dryRun = false

    func run(_ context: CTLContext) async throws {
        let store = try await global.openStore(context)
        defer { Task { await store.close() } }
        let reports = try await MigrationPlan.standard.up(store, dryRun: dryRun, progress: MigrationPrinter.progress(context))
        MigrationPrinter.print(reports, json: global.json, context)
    }
}

struct MigrateAddUserID: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-userid", abstract: "Give every user without a userId a fresh unique usr_XXXXXXXX (safe to re-run).")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Report how many users would change without changing anything.") var dryRun = false

    func run(_ context: CTLContext) async throws {
        let store = try await global.openStore(context)
        defer { Task { await store.close() } }
        let report = try await MigrationPlan.standard.run(.addUserID, on: store, dryRun: dryRun,
                                                          progress: MigrationPrinter.progress(context))
        MigrationPrinter.print([report], json: global.json, context)
    }
}
