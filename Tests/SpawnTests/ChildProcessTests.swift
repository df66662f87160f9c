import Foundation
import Spawn
import Testing

@Suite("Child processes")
struct ChildProcessTests {
    @Test("a child reports its exit code, a signal that killed it, and what it wrote to a descriptor")
    func exitCodesSignalsAndOutput() async throws {
        #expect(try await ChildProcess(executable: "/bin/sh", arguments: ["-c", "exit 7"], environment: [:]).wait() == .exited(7))
        let sleeper = try ChildProcess(executable: "/bin/sleep", arguments: ["30"], environment: [:])
        #expect(sleeper.isRunning)
        sleeper.send(SIGTERM)
        #expect(await sleeper.wait() == .signalled(SIGTERM))
        #expect(!sleeper.isRunning)

        let output = Pipe()
        let echo = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "printf %s \"$GREETING\""],
                                    environment: ["GREETING": "hello"],
                                    stdout: .descriptor(output.fileHandleForWriting.fileDescriptor))
        try output.fileHandleForWriting.close()
        #expect(String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "hello")
        #expect(echo.waitBlocking() == .exited(0))
    }

    @Test("a program that cannot be started is an error naming it, not a crash")
    func missingProgram() {
        #expect(throws: SpawnError.self) {
            try ChildProcess(executable: "/nonexistent/program", environment: [:])
        }
    }

    @Test("signalling the process group stops a shell and the programs it started")
    func groupSignal() async throws {
        let output = Pipe()
        let shell = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "sleep 30 & echo $!; wait"],
                                     environment: [:], stdout: .descriptor(output.fileHandleForWriting.fileDescriptor))
        try output.fileHandleForWriting.close()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let grandchild = try #require(Int32(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(grandchild, 0) == 0)
        shell.send(SIGKILL, group: true)
        #expect(await shell.wait() == .signalled(SIGKILL))
        // The grandchild was killed too (reaped by init once orphaned): within seconds it is gone.
        let deadline = Date().addingTimeInterval(10)
        while kill(grandchild, 0) == 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(kill(grandchild, 0) != 0)
    }

    /// The failure this type exists for: Foundation's Process crashed launching children from a test
    /// process holding ~1,350 descriptors. With 3,000 open and 40 children started from parallel tasks,
    /// each child must start, and see only its three standard descriptors.
    @Test("with 3,000 descriptors open, 40 children started at once each inherit only stdin, stdout and stderr")
    func manyOpenDescriptors() async throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < 4_000 {
            limit.rlim_cur = min(limit.rlim_max, 8_192)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let null = open("/dev/null", O_RDONLY)
        try #require(null >= 0)
        var held: [Int32] = []
        defer { for fd in held { close(fd) }; close(null) }
        for _ in 0..<3_000 {
            let fd = dup(null)
            try #require(fd >= 0, "cannot hold 3,000 descriptors (limit \(limit.rlim_cur))")
            held.append(fd)
        }
        let counts = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    let output = Pipe()
                    let child = try ChildProcess(executable: "/bin/ls", arguments: ["/proc/self/fd"], environment: [:],
                                                 stdout: .descriptor(output.fileHandleForWriting.fileDescriptor))
                    try output.fileHandleForWriting.close()
                    let listing = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                    #expect(await child.wait() == .exited(0))
                    return listing
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(counts.count == 40)
        for listing in counts {
            // ls sees 0, 1, 2 and the descriptor of the directory it is reading.
            let fds = listing.split(separator: "\n").compactMap { Int($0) }
            #expect(fds.filter { $0 > 2 }.count <= 1, "inherited: \(fds)")
            #expect(Set(fds).isSuperset(of: [0, 1, 2]))
        }
    }
}
