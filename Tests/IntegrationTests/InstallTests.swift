import ChatConfig
import Foundation
import Testing
import TestSupport

@Suite("Installation")
struct InstallTests {
    @Test("make install lays out binaries, the unit and the example config under DESTDIR and PREFIX; the unit verifies")
    func install() async throws {
        let root = try #require(RepositoryRoot.find())
        let directory = try TemporaryDirectory("install")
        defer { directory.remove() }
        let prefix = directory.path("usr")
        let result = try await runCommand("/usr/bin/make", ["-C", root.path, "install", "PREFIX=\(prefix)",
                                                             "BIN_DIR=\(ChatBinaries.directory.path)"], timeoutSeconds: 120)
        #expect(result.status == 0, "\(result.stderr)")
        let files = ["bin/chatd", "bin/chatctl", "lib/systemd/system/chatd.service", "share/doc/chatd/chatd.toml.example"]
        for file in files { #expect(FileManager.default.fileExists(atPath: "\(prefix)/\(file)"), "\(file)") }
        #expect(FileManager.default.isExecutableFile(atPath: "\(prefix)/bin/chatd"))
        let unit = try String(contentsOfFile: "\(prefix)/lib/systemd/system/chatd.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=\(prefix)/bin/chatd"))
        #expect(unit.contains("Type=notify"))
        #expect(unit.contains("RestartPreventExitStatus=78"))
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") {
            let verify = try await runCommand("/usr/bin/systemd-analyze", ["verify", "--man=no",
                                                                            "\(prefix)/lib/systemd/system/chatd.service"])
            #expect(verify.status == 0, "\(verify.stderr)")
        }
    }

    @Test("the committed example config is what chatctl config default prints, and chatd accepts it")
    func exampleConfigIsCurrent() async throws {
        let root = try #require(RepositoryRoot.find())
        let committed = try String(contentsOf: root.appendingPathComponent("deploy/chatd.toml"), encoding: .utf8)
        #expect(committed == ConfigKey.exampleFile(), "run: chatctl config default > deploy/chatd.toml")
        let result = try await runCommand(ChatBinaries.path("chatctl"),
                                          ["config", "check", "--config", root.appendingPathComponent("deploy/chatd.toml").path],
                                          environment: ["CHATD_DEV": "1"])
        #expect(result.status == 0, "\(result.stderr)")
    }
}
