import ChatCore
import Foundation
import Logging
import Spawn
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Delivers a one-time code to a phone. Throws when delivery failed.
public protocol CodeSender: Sendable {
    func send(code: String, to phone: Phone) async throws
}

public struct CodeSenderError: Error, Equatable, Sendable {
    public let reason: String

    public init(reason: String) { self.reason = reason }
}

/// Development only: writes the code to the log.
public struct LogCodeSender: CodeSender {
    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func send(code: String, to phone: Phone) async throws {
        // The one place a code is logged; the config refuses this sender outside --dev.
        logger.notice("dev login code", metadata: ["phone": "\(phone)", "code": "\(code)"])
    }
}

/// Runs a program per code with `SMS_PHONE` and `SMS_CODE` in its environment (never in argv,
/// where other users could read it). A non-zero exit or a 10 s timeout is a failure.
///
/// The program gets `environment` (the configuration passes PATH and the locale) plus those two, and
/// nothing else of chatd's: the SMS script is often someone else's code, and chatd's own environment
/// holds the JWT secret, the Chat3 key and the broker's password.
public struct CommandCodeSender: CodeSender {
    let command: String
    let environment: [String: String]
    let timeoutSeconds: Double

    public init(command: String, environment: [String: String], timeoutSeconds: Double = 10) {
        self.command = command
        self.environment = environment
        self.timeoutSeconds = timeoutSeconds
    }

    public func send(code: String, to phone: Phone) async throws {
        var environment = self.environment
        environment["SMS_PHONE"] = phone.digits
        environment["SMS_CODE"] = code
        let child: ChildProcess
        do {
            child = try ChildProcess(executable: "/bin/sh", arguments: ["-c", command], environment: environment,
                                     stdin: .null, stdout: .null, stderr: .inherit)
        } catch {
            throw CodeSenderError(reason: "cannot run SMS command: \(error)")
        }
        // The child leads its own process group: a timeout stops the shell and whatever it started.
        let timeout = child.send(SIGKILL, group: true, after: timeoutSeconds)
        let termination = await child.wait()
        timeout.cancel()
        guard termination == .exited(0) else { throw CodeSenderError(reason: "SMS command \(termination)") }
    }
}

/// POSTs `{phone, code}` as JSON to an SMS gateway; any non-2xx answer is a failure.
public struct WebhookCodeSender: CodeSender {
    let url: URL
    let timeoutSeconds: Double

    public init(url: URL, timeoutSeconds: Double = 5) {
        self.url = url
        self.timeoutSeconds = timeoutSeconds
    }

    public func send(code: String, to phone: Phone) async throws {
        var request = URLRequest(url: url, timeoutInterval: timeoutSeconds)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(JSONValue.object(["phone": .string(phone.digits), "code": .string(code)]).serialized().utf8)
        let response: URLResponse
        do { (_, response) = try await URLSession.shared.data(for: request) } catch {
            throw CodeSenderError(reason: "SMS webhook unreachable")
        }
        guard let status = (response as? HTTPURLResponse)?.statusCode, (200..<300).contains(status) else {
            throw CodeSenderError(reason: "SMS webhook answered \((response as? HTTPURLResponse)?.statusCode ?? 0)")
        }
    }
}
