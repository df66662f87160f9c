import ChatCore
import ChatStore
import Foundation
import Testing
import TestSupport

/// chatctl as operators run it: the real binary, real stores, stdout/stderr and exit codes.
@Suite("chatctl users and migrations")
struct ChatctlUserTests {
    let chatctl = ChatBinaries.path("chatctl")

    static let badInputs: [([String], Int32)] = [
        (["user", "create", "--phone", "7900abc", "--name", "Ann"], 65),
        (["user", "create", "--phone", "123", "--name", "Ann"], 65),
        (["user", "create", "--phone", "79001234567", "--name", "   "], 65),
        (["user", "create", "--phone", "79001234567", "--name", String(repeating: "x", count: 101)], 65),
        (["user", "show", "usr_zzzzzzzz"], 1),
        (["user", "show", "usr_BAD"], 65),
        (["user", "rename", "usr_zzzzzzzz", "New"], 1),
        (["user", "rename", "nobody", "New"], 65),
        (["user", "disable", "usr_zzzzzzzz"], 1),
        (["user", "enable", "usr_zzzzzzzz"], 1),
        (["user", "delete", "usr_zzzzzzzz", "--yes"], 1),
        (["user", "list", "--status", "sleeping"], 65),
        (["user", "list", "--limit", "0"], 65),
        (["user", "create", "--phone", "79001234567"], 64),
        (["user", "frobnicate"], 64),
    ]

    /// An existing, empty SQLite store (as chatd leaves it after its first start) and an environment naming it.
    func sqliteEnvironment(_ directory: TemporaryDirectory) async throws -> [String: String] {
        await (try SQLiteUserStore(path: directory.path("t.sqlite"))).close()
        return ["CHATD_STORE": "sqlite://\(directory.path("t.sqlite"))", "CHATD_CONFIG": directory.path("none.toml")]
    }

    @Test("user create prints a user with a usr_ id; the same phone again exits 1 with a conflict")
    func createAndConflict() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // An empty config file: settings come from the environment alone.
        try "".write(toFile: directory.path("none.toml"), atomically: true, encoding: .utf8)
        let env = try await sqliteEnvironment(directory)
        let created = try await runCommand(chatctl, ["user", "create", "--phone", "79001234567", "--name", "Ann", "--json"],
                                           environment: env)
        #expect(created.status == 0, "\(created.stderr)")
        let user = try JSONValue.parse(created.stdout)
        #expect(user["userId"]?.stringValue?.wholeMatch(of: /usr_[a-z0-9]{8}/) != nil)
        #expect(user["phone"]?.stringValue == "79001234567")
        #expect(user["name"]?.stringValue == "Ann")

        let again = try await runCommand(chatctl, ["user", "create", "--phone", "+7 900 123 45 67", "--name", "Ann"],
                                         environment: env)
        #expect(again.status == 1)
        #expect(again.stderrLines.count == 1)
        #expect(again.stderr.contains("already exists"))
        #expect(again.stdout.isEmpty)
    }

    @Test("token inspect and revoke read the token from stdin given -, and an empty stdin is bad input")
    func tokenFromStdin() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try "".write(toFile: directory.path("none.toml"), atomically: true, encoding: .utf8)
        let env = try await sqliteEnvironment(directory).merging(["JWT_SECRET": String(repeating: "t", count: 40),
                                                        "CHATD_CONTROL_SOCKET": directory.path("none.sock")]) { $1 }
        let created = try await runCommand(chatctl, ["user", "create", "--phone", "79001112299", "--name", "Tia", "--json"],
                                           environment: env)
        let id = try #require(try JSONValue.parse(created.stdout)["userId"]?.stringValue)
        let minted = try await runCommand(chatctl, ["token", "mint", "--user", id], environment: env)
        let token = minted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(minted.status == 0 && token.split(separator: ".").count == 3, "\(minted.stderr)")

        let inspected = try await runCommand(chatctl, ["token", "inspect", "-", "--json"], environment: env, stdin: token + "\n")
        #expect(inspected.status == 0, "\(inspected.stderr)")
        #expect(try JSONValue.parse(inspected.stdout)["valid"] == true)
        let revoked = try await runCommand(chatctl, ["token", "revoke", "-"], environment: env, stdin: token + "\n")
        #expect(revoked.status == 0, "\(revoked.stderr)")
        #expect(revoked.stdout.contains("revoked"))
        let again = try await runCommand(chatctl, ["token", "inspect", "-"], environment: env, stdin: token)
        #expect(again.status == 1)
        #expect(again.stdout.contains("revoked"))
        let empty = try await runCommand(chatctl, ["token", "revoke", "-"], environment: env, stdin: "")
        #expect(empty.status == 65, "\(empty.stderr)")
        #expect(empty.stderr.contains("no token on stdin"))
    }

    @Test("user list, show, rename, disable, enable and delete work end to end")
    func lifecycle() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try "".write(toFile: directory.path("none.toml"), atomically: true, encoding: .utf8)
        let env = try await sqliteEnvironment(directory)
        let created = try await runCommand(chatctl, ["user", "create", "--phone", "79001112233", "--name", "Bob", "--json"],
                                           environment: env)
        let id = try #require(try JSONValue.parse(created.stdout)["userId"]?.stringValue)
        _ = try await runCommand(chatctl, ["user", "create", "--phone", "79005556677", "--name", "Cid"], environment: env)

        let list = try await runCommand(chatctl, ["user", "list", "--phone", "7900111", "--json"], environment: env)
        #expect(try JSONValue.parse(list.stdout).arrayValue?.count == 1)

        let renamed = try await runCommand(chatctl, ["user", "rename", id, "Robert", "--json"], environment: env)
        #expect(try JSONValue.parse(renamed.stdout)["name"]?.stringValue == "Robert")

        let disabled = try await runCommand(chatctl, ["user", "disable", id, "--json"], environment: env)
        #expect(try JSONValue.parse(disabled.stdout)["status"]?.stringValue == "disabled")
        let onlyDisabled = try await runCommand(chatctl, ["user", "list", "--status", "disabled", "--json"], environment: env)
        #expect(try JSONValue.parse(onlyDisabled.stdout).arrayValue?.count == 1)
        let enabled = try await runCommand(chatctl, ["user", "enable", id, "--json"], environment: env)
        #expect(try JSONValue.parse(enabled.stdout)["status"]?.stringValue == "active")

        let shown = try await runCommand(chatctl, ["user", "show", "79001112233"], environment: env)
        #expect(shown.stdout.contains("Robert"))

        let refused = try await runCommand(chatctl, ["user", "delete", id], environment: env)
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("--yes"))
        let deleted = try await runCommand(chatctl, ["user", "delete", id, "--yes"], environment: env)
        #expect(deleted.status == 0)
        let gone = try await runCommand(chatctl, ["user", "show", id], environment: env)
        #expect(gone.status == 1)
    }

    @Test("bad input gives one clear line on stderr, the documented exit code, and writes nothing",
          arguments: ChatctlUserTests.badInputs)
    func badInput(arguments: [String], expected: Int32) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try "".write(toFile: directory.path("none.toml"), atomically: true, encoding: .utf8)
        let env = try await sqliteEnvironment(directory)
        let result = try await runCommand(chatctl, arguments, environment: env)
        #expect(result.status == expected, "\(result.stderr)")
        #expect(!result.stderr.isEmpty)
        #expect(result.stdout.isEmpty)
        if expected != 64 { #expect(result.stderrLines.count == 1, "\(result.stderr)") }
        let list = try await runCommand(chatctl, ["user", "list", "--json"], environment: env)
        #expect(try JSONValue.parse(list.stdout).arrayValue?.isEmpty == true)
    }

    @Test("an unreachable store exits 69 and a broken config exits 78, each with one line")
    func unreachableAndBrokenConfig() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let unreachable = try await runCommand(chatctl, ["user", "list", "--store", "mongodb://127.0.0.1:1/x"],
                                               environment: ["CHATD_CONFIG": "/dev/null"])
        #expect(unreachable.status == 69, "\(unreachable.stderr)")
        #expect(unreachable.stderrLines.count == 1)

        let notAFile = try await runCommand(chatctl, ["user", "list", "--create-store", "--store", "sqlite:///proc/chatd/x.sqlite"],
                                            environment: ["CHATD_CONFIG": "/dev/null"])
        #expect(notAFile.status == 69, "\(notAFile.stderr)")

        try "[store]\nurl = sqlite:///no-quotes\n".write(toFile: directory.path("bad.toml"), atomically: true, encoding: .utf8)
        let broken = try await runCommand(chatctl, ["user", "list", "--config", directory.path("bad.toml")])
        #expect(broken.status == 78)
        #expect(broken.stderrLines.count == 1)
        #expect(broken.stderr.contains("bad.toml:2"))

        let badURL = try await runCommand(chatctl, ["user", "list", "--store", "postgres://x"],
                                          environment: ["CHATD_CONFIG": "/dev/null"])
        #expect(badURL.status == 78)
        #expect(badURL.stderr.contains("store.url"))
    }

    @Test("migrate add-userid gives 10,000 legacy users distinct ids, then changes nothing", arguments: StoreKind.allCases)
    func addUserID(kind: StoreKind) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        if kind == .mongo {
            try await MongoStandIn.with { standIn in
                try await migrateLegacyUsers(url: standIn.url(database: StoreFixture.freshDatabaseName()))
            }
        } else {
            try await migrateLegacyUsers(url: "sqlite://\(directory.path("legacy.sqlite"))")
        }
    }

    func migrateLegacyUsers(url: String) async throws {
        let store = try await StoreOpener.open(try StoreLocation(parsing: url))
        let seeder = try #require(store as? any LegacyUserSeeding)
        try await seeder.insertLegacyUsers((0..<10_000).map { LegacyUser(phone: String(79_100_000_000 + $0), name: "Legacy \($0)") })
        await store.close()
        let env = ["CHATD_STORE": url, "CHATD_CONFIG": "/dev/null"]

        let dryRun = try await runCommand(chatctl, ["migrate", "add-userid", "--dry-run", "--json"], environment: env)
        #expect(dryRun.status == 0, "\(dryRun.stderr)")
        #expect(try JSONValue.parse(dryRun.stdout).arrayValue?.first?["affected"]?.intValue == 10_000)

        let status = try await runCommand(chatctl, ["migrate", "status", "--json"], environment: env)
        #expect(try JSONValue.parse(status.stdout)["usersWithoutUserId"]?.intValue == 10_000)

        let run = try await runCommand(chatctl, ["migrate", "add-userid", "--json"], environment: env, timeoutSeconds: 300)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try JSONValue.parse(run.stdout).arrayValue?.first?["affected"]?.intValue == 10_000)
        #expect(run.stderr.contains("10000/10000"))

        let list = try await runCommand(chatctl, ["user", "list", "--limit", "20000", "--json"], environment: env)
        let ids = try #require(try JSONValue.parse(list.stdout).arrayValue).compactMap { $0["userId"]?.stringValue }
        #expect(ids.count == 10_000)
        #expect(Set(ids).count == 10_000)
        #expect(ids.allSatisfy { $0.wholeMatch(of: /usr_[a-z0-9]{8}/) != nil })

        let again = try await runCommand(chatctl, ["migrate", "add-userid", "--json"], environment: env)
        #expect(try JSONValue.parse(again.stdout).arrayValue?.first?["affected"]?.intValue == 0)
        let listAgain = try await runCommand(chatctl, ["user", "list", "--limit", "20000", "--json"], environment: env)
        #expect(listAgain.stdout == list.stdout)

        let up = try await runCommand(chatctl, ["migrate", "up"], environment: env)
        #expect(up.stdout.contains("nothing to migrate"))
    }
}
