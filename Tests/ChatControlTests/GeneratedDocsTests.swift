import Foundation
import Testing
import TestSupport

/// Man pages and completions are generated from the CLI definitions and committed; these keep them honest.
@Suite("generated docs")
struct GeneratedDocsTests {
    static var root: URL { RepositoryRoot.find() ?? URL(fileURLWithPath: ".") }
    static let chatctl = ChatBinaries.path("chatctl")

    static let generated: [(file: String, arguments: [String])] = [
        ("man/chatctl.1", ["_docs", "chatctl.1"]),
        ("man/chatd.toml.5", ["_docs", "chatd.toml.5"]),
        ("completions/chatctl.bash", ["--generate-completion-script", "bash"]),
        ("completions/_chatctl", ["--generate-completion-script", "zsh"]),
        ("completions/chatctl.fish", ["--generate-completion-script", "fish"]),
    ]

    @Test("the committed man pages and completions match what the current CLI generates (run scripts/generate-docs.sh)",
          arguments: generated.map(\.file))
    func fresh(file: String) async throws {
        let arguments = Self.generated.first { $0.file == file }!.arguments
        let result = try await runCommand(Self.chatctl, arguments)
        #expect(result.status == 0, "\(result.stderr)")
        let committed = try String(contentsOf: Self.root.appendingPathComponent(file), encoding: .utf8)
        #expect(committed == result.stdout, "\(file) is stale: run scripts/generate-docs.sh")
    }

    static func render(_ page: String) async throws -> CommandResult {
        try await runCommand("/usr/bin/groff", ["-man", "-Tutf8", "-P", "-cbou", "-ww",
                                                Self.root.appendingPathComponent(page).path])
    }

    @Test("chatctl.1 renders without warnings and documents every command")
    func chatctlPageCoversEveryCommand() async throws {
        let rendered = try await Self.render("man/chatctl.1")
        #expect(rendered.status == 0)
        #expect(rendered.stderr.isEmpty, "\(rendered.stderr)")
        let page = rendered.stdout.replacingOccurrences(of: "‐\n", with: "")
        let commands = ["user list", "user show", "user create", "user rename", "user disable", "user enable", "user delete",
                        "migrate status", "migrate up", "token mint", "token inspect", "queue list", "queue show",
                        "queue peek", "queue purge", "daemon status", "daemon connections", "daemon kick", "daemon drain",
                        "daemon reload", "daemon log-level", "daemon stop", "config check", "config default"]
        for command in commands {
            #expect(page.contains("chatctl \(command)"), "no section for chatctl \(command)")
        }
        #expect(!page.contains("_docs"))
        for status in ["64", "69", "77", "78"] { #expect(page.contains(status)) }
    }

    @Test("chatd.8 and chatd.toml.5 render without warnings; the config page lists every key")
    func daemonPages() async throws {
        let daemon = try await Self.render("man/chatd.8")
        #expect(daemon.status == 0 && daemon.stderr.isEmpty, "\(daemon.stderr)")
        #expect(daemon.stdout.contains("/v1/status") && daemon.stdout.contains("SIGHUP"))
        let config = try await Self.render("man/chatd.toml.5")
        #expect(config.status == 0 && config.stderr.isEmpty, "\(config.stderr)")
        let keys = try await runCommand(Self.chatctl, ["config", "default"])
        for line in keys.stdout.split(separator: "\n") where line.hasPrefix("#") && line.contains(" = ") {
            let key = line.dropFirst().split(separator: " ").first.map(String.init) ?? ""
            #expect(config.stdout.contains(key), "chatd.toml.5 lacks \(key)")
        }
    }

    @Test("sourcing the bash completion completes 'chatctl qu' to queue and 'chatctl daemon l' to log-level")
    func bashCompletion() async throws {
        let script = """
            source "\(Self.root.appendingPathComponent("completions/chatctl.bash").path)"
            complete -p chatctl >/dev/null || exit 3
            function=$(complete -p chatctl | sed -E 's/.*-F ([^ ]+).*/\\1/')
            run() {
                COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
                COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
                "$function" chatctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
                echo "${COMPREPLY[*]}"
            }
            run chatctl qu
            run chatctl daemon l
            """
        let result = try await runCommand("/bin/bash", ["--norc", "--noprofile", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines == ["queue", "log-level"], "\(result.stdout)")
    }
}
