import ChatCore
import ChatDaemon
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import SocketIO
import Testing

/// chatd on the library's binary attachments and namespaces: a binary event is an event like any
/// other to chatd's handlers (none of which takes bytes), and chatd still serves only `/`.
@Suite("chatd: binary attachments and namespaces")
struct RealTimeBinaryTests {
    @Test("a join naming its dialog by a binary attachment is refused with bad_request and the socket stays; /admin gets Invalid namespace")
    func binaryEventOnChatd() async throws {
        let h = try await RealTimeHarness(membership: MembershipDouble())
        defer { Task { await h.cleanUp() } }
        let (user, token) = try await h.user("Ann", phone: "79000000001")
        try await h.router { client in
            let open = try await client.execute(uri: "/socket.io/?EIO=4&transport=polling", method: .get)
            let sid = try #require(try JSONValue.parse(String(String(buffer: open.body).dropFirst()))["sid"]?.stringValue)
            let url = "/socket.io/?EIO=4&transport=polling&sid=\(sid)"
            func post(_ body: String) async throws {
                let response = try await client.execute(uri: url, method: .post, body: ByteBuffer(string: body))
                #expect(String(buffer: response.body) == "ok")
            }
            func get() async throws -> String { String(buffer: try await client.execute(uri: url, method: .get).body) }

            try await post(#"40{"token":"\#(token)"}"#)
            #expect(try await get().hasPrefix(#"40{"sid":"#))
            try await post("40/admin,")
            #expect(try await get() == #"44/admin,{"message":"Invalid namespace"}"#)
            try await post(#"451-1["dialog:join",{"_placeholder":true,"num":0}]"# + "\u{1e}bAQID")
            #expect(try await get() == #"431[{"code":"bad_request","ok":false}]"#)
            #expect(await h.hub.server.sockets(of: user.userId).count == 1)
        }
    }
}
