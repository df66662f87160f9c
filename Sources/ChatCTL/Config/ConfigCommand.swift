import ArgumentParser
import ChatConfig

public struct ConfigCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Validate and show chatd's configuration.",
        subcommands: [ConfigCheck.self, ConfigDefault.self])
    public init() {}
}

struct ConfigCheck: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Validate the config file and environment exactly as chatd would.")

    @OptionGroup var global: GlobalOptions

    func run(_ context: CTLContext) async throws {
        let loader = global.loader(context)
        let config = try loader.load()
        let resolved = try loader.resolve()
        if global.json {
            struct Entry: Encodable { let key: String; let value: String; let source: String }
            context.print(Output.json(ConfigKey.all.compactMap { key in
                resolved[key.name].map { Entry(key: key.name, value: key.secret ? "(set)" : $0.value, source: $0.source) }
            }))
        } else {
            context.print(Output.table(["KEY", "VALUE", "SOURCE"], ConfigKey.all.compactMap { key in
                resolved[key.name].map { [key.name, key.secret ? "(set)" : $0.value, $0.source] }
            }))
            context.print("config ok (digest \(config.digest))")
        }
    }
}

struct ConfigDefault: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "default", abstract: "Print a commented example config file with every key and its default.")

    @OptionGroup var global: GlobalOptions

    func run(_ context: CTLContext) async throws {
        context.write(ConfigKey.exampleFile())
    }
}
