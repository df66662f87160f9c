@testable import ChatControl
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A Unix-socket peer that reads one request head and answers it with fixed bytes (nil: close without
/// answering; silence: hold the connection), to see what the client makes of answers chatd never gives.
final class CannedPeer: @unchecked Sendable {
    enum Answer { case bytes(String), close, silence }

    let path: String
    private let fd: Int32

    init(directory: TemporaryDirectory, answer: Answer) throws {
        path = directory.path("peer.sock")
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, 4) == 0 else { throw POSIXError(.EADDRINUSE) }
        let listener = fd
        Thread.detachNewThread {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            var head: [UInt8] = []
            var byte: UInt8 = 0
            while recv(connection, &byte, 1, 0) == 1 {
                head.append(byte)
                if head.suffix(4) == [13, 10, 13, 10] { break }
            }
            switch answer {
            case .bytes(let text):
                let bytes = Array(text.utf8)
                _ = bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                close(connection)
            case .close:
                close(connection)
            case .silence:
                sleep(8)
                close(connection)
            }
        }
    }

    deinit { close(fd) }
}

@Suite("control client on libcurl, against canned peers")
struct ControlClientWireTests {
    func exchange(_ answer: CannedPeer.Answer, timeout: Int = 10) async throws
        -> Result<ControlHTTPResponse, ControlClientError>
    {
        let directory = try TemporaryDirectory("ctl-wire")
        defer { directory.remove() }
        let peer = try CannedPeer(directory: directory, answer: answer)
        let client = ControlClient(socketPath: peer.path, timeoutSeconds: timeout)
        do throws(ControlClientError) {
            return .success(try await client.send(method: "GET", path: "/v1/status"))
        } catch {
            return .failure(error)
        }
    }

    @Test("a chunked answer is read whole, with its status and lowercased headers")
    func chunkedAnswer() async throws {
        let answer = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nX-Probe: yes\r\n\r\n"
            + "4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n"
        let response = try await exchange(.bytes(answer)).get()
        #expect(response.status == 201)
        #expect(response.text == "abcdefg")
        #expect(response.headers["x-probe"] == "yes")
    }

    @Test("something that is not HTTP, or no answer at all, is a protocol error")
    func notHTTP() async throws {
        guard case .failure(.protocolError) = try await exchange(.bytes("SSH-2.0-OpenSSH_9.2\r\n\r\n")) else {
            Issue.record("a non-HTTP answer was accepted")
            return
        }
        #expect(try await exchange(.close) == .failure(.protocolError("chatd closed the connection without answering")))
    }

    @Test("a peer that never answers times out after the client's timeout, not later")
    func silentPeer() async throws {
        let started = ContinuousClock.now
        let result = try await exchange(.silence, timeout: 1)
        guard case .failure(.timedOut) = result else {
            Issue.record("expected a timeout, got \(result)")
            return
        }
        #expect(ContinuousClock.now - started < .seconds(15))
    }

    @Test("no socket file means chatd is not running")
    func missingSocket() async throws {
        let client = ControlClient(socketPath: "/nonexistent/chatd-control.sock", timeoutSeconds: 2)
        await #expect(throws: ControlClientError.notRunning(socketPath: "/nonexistent/chatd-control.sock")) {
            _ = try await client.status()
        }
    }
}

extension Result: @retroactive Equatable where Success == ControlHTTPResponse, Failure == ControlClientError {
    public static func == (lhs: Self, rhs: Self) -> Bool {
        switch (lhs, rhs) {
        case (.failure(let a), .failure(let b)): a == b
        case (.success(let a), .success(let b)): a.status == b.status && a.body == b.body
        default: false
        }
    }
}
