import ArgumentParser
import ChatConfig
import ChatDaemon
import Foundation
import Logging

/// chatd: the chat backend daemon. Flags override the environment, which overrides the config file.
@main
struct Chatd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chatd", abstract: "Chat backend: phone login, REST API over Chat3, Socket.IO, RabbitMQ updates.",
        version: ChatdVersion.current)

    @Option(help: "Config file (default /etc/chatd/chatd.toml).") var config: String?
    @Option(help: "HTTP and Socket.IO port (0 picks one).") var port: String?
    @Option(help: "Address to bind.") var host: String?
    @Option(help: "User store URL: sqlite:///path or mongodb://host/db.") var store: String?
    @Option(help: "AMQP URL of RabbitMQ.") var rabbitmqURL: String?
    @Option(help: "Chat3 API base URL.") var chat3URL: String?
    @Option(help: "Chat3 tenant.") var tenant: String?
    @Option(help: "Control socket path.") var controlSocket: String?
    @Option(help: "State directory (SQLite file, development secret).") var stateDir: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String?
    @Flag(help: "Development defaults: generated JWT secret, log SMS sender.") var dev = false

    var flagValues: [String: String] {
        var flags: [String: String] = [:]
        flags["config"] = config
        flags["port"] = port
        flags["host"] = host
        flags["store"] = store
        flags["rabbitmq-url"] = rabbitmqURL
        flags["chat3-url"] = chat3URL
        flags["tenant"] = tenant
        flags["control-socket"] = controlSocket
        flags["state-dir"] = stateDir
        flags["log-level"] = logLevel
        if dev { flags["dev"] = "true" }
        return flags
    }

    func run() async throws {
        Signals.unblockControlSignals()
        let environment = ProcessInfo.processInfo.environment
        let loaded: ChatdConfig
        do {
            loaded = try ConfigLoader(flags: flagValues, environment: environment).load()
        } catch {
            FileHandle.standardError.write(Data("chatd: \(LogSetup.masked(error.message))\n".utf8))
            throw ExitCode(78)
        }
        // Under systemd, stderr is the journal: no timestamps, a syslog priority on each line.
        let logLevel = LogSetup.bootstrap(level: Logger.Level(rawValue: loaded.logLevel.rawValue) ?? .info,
                                          format: LogFormat(rawValue: loaded.logFormat.rawValue) ?? .logfmt,
                                          journal: environment["JOURNAL_STREAM"] != nil)
        let logger = Logger(label: "chatd")
        do {
            let services = try await Daemon.prepare(config: loaded, logger: logger)
            // Reload (control socket, SIGHUP) reads the same flags, environment and file again.
            let flags = flagValues
            let control = DaemonControlOptions(logLevel: logLevel, reloadConfig: {
                try ConfigLoader(flags: flags, environment: environment).load()
            })
            try await Daemon.run(services, notifier: SystemdNotifier(environment: environment), control: control)
        } catch let error as StartupError {
            // One line, on stderr (the journal keeps it, at priority critical); a URL's password masked.
            logger.critical("cannot start: \(LogSetup.masked(error.message))")
            throw ExitCode(error.exitStatus)
        } catch let error as InstanceTaken {
            throw ExitCode(error.exitStatus) // the lock logged why
        }
    }
}

