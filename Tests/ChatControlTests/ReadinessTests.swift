import ChatControl
import ChatCore
import Foundation
import Testing
import TestSupport

/// "chatd ready" (and READY=1) promise that the control socket answers too.
@Suite("readiness and the control socket", .serialized)
struct ReadinessTests {
    @Test("once chatd logs ready, the control socket already listens and chatctl daemon status answers on the first try",
          arguments: 1...3)
    func statusAnswersAtReady(run: Int) async throws {
        let directory = try TemporaryDirectory("chatd-ready")
        defer { directory.remove() }
        let environment = ControlFixture.environment(directory)
        // Returns as soon as the "chatd ready" line is in the log; no wait for the control socket here.
        let chatd = try await ChatdProcess.start(environment: environment, logURL: directory.url.appendingPathComponent("chatd.log"))
        defer { Task { await chatd.service.stop() } }
        let status = try await runCommand(ChatBinaries.path("chatctl"), ["daemon", "status", "--json"], environment: environment)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(try JSONValue.parse(status.stdout)["pid"]?.intValue == Int(chatd.service.pid))

        let log = chatd.service.log
        let listening = try #require(log.range(of: "control socket listening"), "\(log)")
        let ready = try #require(log.range(of: "chatd ready"), "\(log)")
        #expect(listening.lowerBound < ready.lowerBound, "\(log)")
    }
}
