import ArgumentParser
import ChatConfig

/// `chatctl _docs <page>`: prints a man page generated from the parser's own model (chatctl.1) or
/// from the config key table (chatd.toml.5). Hidden; scripts/generate-docs.sh runs it.
struct DocsCommand: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "_docs", abstract: "Print a generated man page.", shouldDisplay: false)

    @Argument(help: "chatctl.1 or chatd.toml.5") var page: String

    func run(_ context: CTLContext) async throws {
        switch page {
        case "chatctl.1": context.write(try ChatctlManPage.render())
        case "chatd.toml.5": context.write(ConfigManPage.render())
        default: throw CTLError.usage("unknown page '\(page)': chatctl.1 or chatd.toml.5")
        }
    }
}
