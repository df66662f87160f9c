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
        let files = ["bin/chatd", "bin/chatctl", "lib/systemd/system/chatd.service", "lib/sysusers.d/chatd.conf",
                     "share/doc/chatd/chatd.toml.example"]
        for file in files { #expect(FileManager.default.fileExists(atPath: "\(prefix)/\(file)"), "\(file)") }
        #expect(FileManager.default.isExecutableFile(atPath: "\(prefix)/bin/chatd"))
        let unit = try String(contentsOfFile: "\(prefix)/lib/systemd/system/chatd.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=\(prefix)/bin/chatd"))
        #expect(unit.contains("Type=notify"))
        #expect(unit.contains("RestartPreventExitStatus=78"))
        // Operators in group chatd can write the store chatd creates, nobody else can read it.
        #expect(unit.contains("\nUMask=0007\n"))
        #expect(unit.contains("\nStateDirectoryMode=0770\n"))
        #expect(unit.contains("\nUser=chatd\n"))
        // The unit's User= exists once systemd-sysusers read the installed entry.
        let sysusers = try String(contentsOfFile: "\(prefix)/lib/sysusers.d/chatd.conf", encoding: .utf8)
        #expect(sysusers.split(separator: "\n").contains { $0.hasPrefix("u chatd ") }, "\(sysusers)")
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-sysusers") {
            let root = directory.path("root")
            try FileManager.default.createDirectory(atPath: "\(root)/etc", withIntermediateDirectories: true)
            for file in ["passwd", "group", "shadow", "gshadow"] { FileManager.default.createFile(atPath: "\(root)/etc/\(file)", contents: nil) }
            let created = try await runCommand("/usr/bin/systemd-sysusers", ["--root=\(root)", "\(prefix)/lib/sysusers.d/chatd.conf"])
            #expect(created.status == 0, "\(created.stderr)")
            let passwd = try String(contentsOfFile: "\(root)/etc/passwd", encoding: .utf8)
            let group = try String(contentsOfFile: "\(root)/etc/group", encoding: .utf8)
            #expect(passwd.hasPrefix("chatd:") || passwd.contains("\nchatd:"), "\(passwd)")
            #expect(group.hasPrefix("chatd:") || group.contains("\nchatd:"), "\(group)")
        }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") {
            let verify = try await runCommand("/usr/bin/systemd-analyze", ["verify", "--man=no",
                                                                            "\(prefix)/lib/systemd/system/chatd.service"])
            #expect(verify.status == 0, "\(verify.stderr)")
            // The cheap hardening keeps the exposure score "OK" (below 4.0 of 10).
            let security = try await runCommand("/usr/bin/systemd-analyze", ["security", "--offline=yes", "--no-pager",
                                                                              "\(prefix)/lib/systemd/system/chatd.service"])
            let score = security.stdout.firstMatch(of: /Overall exposure level for chatd.service: ([0-9.]+)/).flatMap { Double($0.1) }
            let exposure = try #require(score, "\(security.stdout)\(security.stderr)")
            #expect(exposure < 4.0, "\(security.stdout)")
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
