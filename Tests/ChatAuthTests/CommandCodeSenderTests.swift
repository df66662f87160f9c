import ChatAuth
import ChatCore
import Foundation
import Testing
import TestSupport

@Suite("SMS command sender")
struct CommandCodeSenderTests {
    let phone = try! Phone(normalizing: "79005550001")

    @Test("the command gets the phone and code in its environment and nothing of chatd's own")
    func environmentOnly() async throws {
        let directory = try TemporaryDirectory("sms-command")
        defer { directory.remove() }
        // HOME stands for what chatd's environment holds (the JWT secret, the Chat3 key): set here, not there.
        try #require(ProcessInfo.processInfo.environment["HOME"] != nil)
        let sender = CommandCodeSender(
            command: "printf '%s %s %s' \"$SMS_PHONE\" \"$SMS_CODE\" \"${HOME:-none}\" > '\(directory.path("out"))'",
            environment: ["PATH": "/usr/bin:/bin"])
        try await sender.send(code: "482913", to: phone)
        #expect(try String(contentsOfFile: directory.path("out"), encoding: .utf8) == "\(phone.digits) 482913 none")
    }

    @Test("a command that fails is an error that names its exit code")
    func failure() async {
        let sender = CommandCodeSender(command: "exit 3", environment: [:])
        await #expect(throws: CodeSenderError(reason: "SMS command exited with 3")) {
            try await sender.send(code: "111111", to: phone)
        }
    }

    @Test("a command that hangs is stopped at the timeout, with what it started, and the send fails")
    func timeout() async throws {
        let directory = try TemporaryDirectory("sms-hang")
        defer { directory.remove() }
        let sender = CommandCodeSender(command: "sleep 60 & echo $! > '\(directory.path("pid"))'; wait",
                                       environment: [:], timeoutSeconds: 0.5)
        let started = Date()
        await #expect(throws: CodeSenderError(reason: "SMS command killed by signal \(SIGKILL)")) {
            try await sender.send(code: "111111", to: phone)
        }
        #expect(Date().timeIntervalSince(started) < 10)
        let grandchild = try #require(Int32(try String(contentsOfFile: directory.path("pid"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        let deadline = Date().addingTimeInterval(10)
        while kill(grandchild, 0) == 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(kill(grandchild, 0) != 0, "the shell's sleep outlived the timeout")
    }
}
