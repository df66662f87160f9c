import ChatCore
import Foundation
import Testing
import TestSupport

/// The real chatd binary in front of the real chat3-sim binary, users and tokens from the real chatctl.
struct Chat3Stack {
    static let key = "chat3_integration_key"

    struct Caller {
        let id: String
        let token: String
    }

    let directory: TemporaryDirectory
    let environment: [String: String]
    let chatd: ChatdProcess
    let sim: ServiceProcess
    let simPort: Int

    var simBase: String { "http://127.0.0.1:\(simPort)" }

    static func startSim(_ directory: TemporaryDirectory, port: Int = 0) async throws -> (ServiceProcess, Int) {
        let sim = try ServiceProcess(ChatBinaries.path("chat3-sim"),
                                     ["--port", String(port), "--api-key", key, "--publish-delay-ms", "0"],
                                     environment: [:], logURL: directory.url.appendingPathComponent("sim-\(UUID().uuidString.prefix(6)).log"))
        let bound = try await sim.waitForLine("chat3-sim listening on 127.0.0.1:([0-9]+)")
        return (sim, Int(bound)!)
    }

    /// chat3-sim, then chatd with a 1 s Chat3 request timeout.
    /// `extraConfig`: more TOML sections for the test's own keys.
    static func start(extraConfig: String = "") async throws -> Chat3Stack {
        let directory = try TemporaryDirectory("chat3-routes")
        let (sim, port) = try await startSim(directory)
        let config = directory.path("chatd.toml")
        try ("[chat3]\nrequest_timeout = \"1s\"\nconnect_timeout = \"1s\"\n" + extraConfig)
            .write(toFile: config, atomically: true, encoding: .utf8)
        let environment = [
            "CHATD_STORE": "sqlite://\(directory.path("users.sqlite"))",
            "CHATD_STATE_DIR": directory.url.path,
            "CHATD_CONFIG": config,
            "CHATD_CONTROL_SOCKET": directory.path("chatd.sock"),
            "JWT_SECRET": String(repeating: "k", count: 44),
            "SMS_SENDER": "command",
            "SMS_COMMAND": "/bin/true",
            "CHAT3_API_URL": "http://127.0.0.1:\(port)/api",
            "CHAT3_API_KEY": key,
        ]
        let chatd = try await ChatdProcess.start(environment: environment, logURL: directory.url.appendingPathComponent("chatd.log"))
        return Chat3Stack(directory: directory, environment: environment, chatd: chatd, sim: sim, simPort: port)
    }

    func stop() async {
        await chatd.service.stop()
        await sim.stop()
        directory.remove()
    }

    func user(_ name: String) async throws -> Caller {
        let phone = "7900" + String(Int.random(in: 1_000_000...9_999_999))
        let created = try await runCommand(ChatBinaries.path("chatctl"), ["user", "create", "--phone", phone, "--name", name, "--json"],
                                           environment: environment)
        let id = try #require(try JSONValue.parse(created.stdout)["userId"]?.stringValue, "\(created.stderr)")
        let minted = try await runCommand(ChatBinaries.path("chatctl"), ["token", "mint", "--user", id], environment: environment)
        #expect(minted.status == 0, "\(minted.stderr)")
        return Caller(id: id, token: minted.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func disable(_ caller: Caller) async throws {
        let result = try await runCommand(ChatBinaries.path("chatctl"), ["user", "disable", caller.id], environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
    }

    func call(_ method: String, _ path: String, _ body: JSONValue? = nil, as caller: Caller?) async throws -> HTTPResult {
        try await HTTPTestClient.json(method, chatd.baseURL + path, body, token: caller?.token)
    }

    /// What chat3-sim has seen, its hooks left out: `METHOD /path`.
    func simRequests() async throws -> [String] {
        let result = try await HTTPTestClient.send("GET", simBase + "/_sim/requests", headers: ["X-API-Key": Self.key])
        return (result.json?["data"]?.arrayValue ?? []).compactMap { entry in
            guard let method = entry["method"]?.stringValue, let path = entry["path"]?.stringValue,
                  !path.hasPrefix("/_sim") else { return nil }
            return "\(method) \(path)"
        }
    }

    func simHook(_ method: String, _ path: String, _ body: JSONValue? = nil) async throws {
        var headers = ["X-API-Key": Self.key, "Content-Type": "application/json"]
        if body == nil { headers["Content-Type"] = nil }
        let result = try await HTTPTestClient.send(method, simBase + path, headers: headers,
                                                   body: body.map { Data($0.serialized().utf8) })
        #expect(result.status == 200, "\(result.text)")
    }
}

@Suite("chatd dialog and message routes over chat3-sim", .serialized)
struct Chat3RoutesTests {
    enum Role: String, CaseIterable { case creator, member, outsider, disabled }

    @Test("creator, member, non-member and disabled user get the right status on every dialog and message route, and refused calls change nothing in Chat3")
    func authorizationMatrix() async throws {
        let stack = try await Chat3Stack.start()
        let ann = try await stack.user("Ann"), bob = try await stack.user("Bob"), cid = try await stack.user("Cid")
        let dee = try await stack.user("Dee"), eve = try await stack.user("Eve")

        let created = try await stack.call("POST", "/api/dialogs", ["name": "Team", "memberIds": [.string(bob.id), .string(dee.id)]], as: ann)
        #expect(created.status == 201, "\(created.text)")
        let dialog = try #require(created.json?["data"]?["dialogId"]?.stringValue)
        #expect(created.json?["data"]?["createdBy"] == .string(ann.id))
        #expect(created.json?["data"]?["name"] == "Team")
        let sent = try await stack.call("POST", "/api/messages/dialog/\(dialog)", ["content": "hello"], as: ann)
        #expect(sent.status == 201, "\(sent.text)")
        let message = try #require(sent.json?["message"]?["messageId"]?.stringValue)
        #expect(sent.json?["message"]?["senderId"] == .string(ann.id))
        try await stack.disable(dee)

        let callers: [Role: Chat3Stack.Caller] = [.creator: ann, .member: bob, .outsider: cid, .disabled: dee]
        let thumbs = "%F0%9F%91%8D"
        // Refusals run before the allowed calls of the same route, so they meet an unchanged dialog.
        let matrix: [(method: String, path: String, body: JSONValue?, expected: [(Role, Int)])] = [
            ("GET", "/api/dialogs", nil, [(.disabled, 401), (.creator, 200), (.member, 200), (.outsider, 200)]),
            ("GET", "/api/dialogs/\(dialog)", nil, [(.outsider, 404), (.disabled, 401), (.creator, 200), (.member, 200)]),
            ("GET", "/api/dialogs/\(dialog)/members", nil, [(.outsider, 404), (.disabled, 401), (.creator, 200), (.member, 200)]),
            ("POST", "/api/dialogs/\(dialog)/members", ["userId": .string(eve.id)],
             [(.outsider, 404), (.disabled, 401), (.creator, 200), (.member, 200)]),
            ("POST", "/api/dialogs/\(dialog)/typing", nil, [(.outsider, 404), (.disabled, 401), (.creator, 202), (.member, 202)]),
            ("GET", "/api/messages/dialog/\(dialog)", nil, [(.outsider, 404), (.disabled, 401), (.creator, 200), (.member, 200)]),
            ("POST", "/api/messages/dialog/\(dialog)", ["content": "again", "type": "text"],
             [(.outsider, 404), (.disabled, 401), (.creator, 201), (.member, 201)]),
            ("POST", "/api/messages/\(message)/status/read", nil, [(.outsider, 404), (.disabled, 401), (.creator, 200), (.member, 200)]),
            ("POST", "/api/messages/\(message)/reactions", ["reaction": "👍"],
             [(.outsider, 404), (.disabled, 401), (.creator, 200), (.member, 200)]),
            ("DELETE", "/api/messages/\(message)/reactions/\(thumbs)", nil,
             [(.outsider, 404), (.disabled, 401), (.creator, 200), (.member, 200)]),
            ("DELETE", "/api/dialogs/\(dialog)/members/\(eve.id)", nil,
             [(.member, 403), (.outsider, 404), (.disabled, 401), (.creator, 200)]),
            ("DELETE", "/api/dialogs/\(dialog)", nil, [(.member, 403), (.outsider, 404), (.disabled, 401)]),
        ]
        for row in matrix {
            for (role, status) in row.expected {
                let before = try await stack.simRequests()
                let response = try await stack.call(row.method, row.path, row.body, as: callers[role]!)
                #expect(response.status == status, "\(role) \(row.method) \(row.path): \(response.text)")
                #expect(response.json?["success"] == .bool(status < 300))
                let during = try await stack.simRequests().dropFirst(before.count)
                if status == 401 {
                    #expect(during.isEmpty, "\(role) \(row.method) \(row.path) reached Chat3: \(Array(during))")
                } else if status >= 400 {
                    #expect(during.allSatisfy { $0.hasPrefix("GET ") }, "\(role) \(row.method) \(row.path) wrote to Chat3: \(Array(during))")
                }
            }
        }
        // The outsider's own list does not show the dialog; the member's does.
        let outsiderList = try await stack.call("GET", "/api/dialogs", as: cid)
        #expect(outsiderList.json?["data"] == [])
        let memberList = try await stack.call("GET", "/api/dialogs", as: bob)
        #expect(memberList.json?["data"]?.arrayValue?.first?["dialogId"] == .string(dialog))
        #expect(memberList.json?["pagination"]?["total"] == 1)

        // Leaving: an outsider cannot "leave" (404), a member can remove itself, after which it is an outsider.
        #expect(try await stack.call("DELETE", "/api/dialogs/\(dialog)/members/\(cid.id)", as: cid).status == 404)
        #expect(try await stack.call("DELETE", "/api/dialogs/\(dialog)/members/\(bob.id)", as: bob).status == 200)
        #expect(try await stack.call("GET", "/api/dialogs/\(dialog)", as: bob).status == 404)
        #expect(try await stack.call("POST", "/api/messages/dialog/\(dialog)", ["content": "still here?"], as: bob).status == 404)

        // Only the creator deletes; afterwards the dialog is gone for everyone.
        #expect(try await stack.call("DELETE", "/api/dialogs/\(dialog)", as: ann).status == 200)
        #expect(try await stack.simRequests().contains("DELETE /api/dialogs/\(dialog)"))
        #expect(try await stack.call("GET", "/api/dialogs/\(dialog)", as: ann).status == 404)
        await stack.stop()
    }

    @Test("malformed ids, bad paging, content over 4096, unknown types and media without an http(s) meta.url get 400 before any Chat3 call")
    func validationBeforeChat3() async throws {
        let stack = try await Chat3Stack.start()
        let ann = try await stack.user("Ann")
        let created = try await stack.call("POST", "/api/dialogs", ["name": "Solo"], as: ann)
        let dialog = try #require(created.json?["data"]?["dialogId"]?.stringValue)
        let message = "msg_0123456789abcdefghij"
        let cases: [(String, String, JSONValue?)] = [
            ("GET", "/api/dialogs/dlg_BAD", nil),
            ("GET", "/api/dialogs/dlg_0123456789abcdefghi%2F", nil),
            ("GET", "/api/dialogs/..%2F..%2Fusers", nil),
            ("GET", "/api/dialogs?limit=1000", nil),
            ("GET", "/api/dialogs?page=0", nil),
            ("GET", "/api/messages/dialog/not-a-dialog", nil),
            ("POST", "/api/dialogs", ["name": ""]),
            ("POST", "/api/dialogs", ["name": "x", "memberIds": ["bob"]]),
            ("POST", "/api/dialogs", ["name": "x", "memberIds": ["usr_zzzzzzzz"]]),
            ("POST", "/api/dialogs", ["name": "x", "memberIds": "usr_zzzzzzzz"]),
            ("POST", "/api/dialogs/\(dialog)/members", ["userId": "../admin"]),
            ("DELETE", "/api/dialogs/\(dialog)/members/usr_BAD", nil),
            ("POST", "/api/messages/dialog/\(dialog)", ["content": .string(String(repeating: "a", count: 4097))]),
            ("POST", "/api/messages/dialog/\(dialog)", ["content": ""]),
            ("POST", "/api/messages/dialog/\(dialog)", ["content": 42]),
            ("POST", "/api/messages/dialog/\(dialog)", ["content": "hi", "type": "video"]),
            ("POST", "/api/messages/dialog/\(dialog)", ["content": "pic", "type": "image"]),
            ("POST", "/api/messages/dialog/\(dialog)", ["content": "pic", "type": "image", "meta": ["url": "javascript:alert(1)"]]),
            ("POST", "/api/messages/dialog/\(dialog)", ["content": "doc", "type": "file", "meta": ["name": "x.pdf"]]),
            ("POST", "/api/messages/dialog/\(dialog)", ["content": "hi", "meta": ["bad key": 1]]),
            ("POST", "/api/messages/msg_bad/status/read", nil),
            ("POST", "/api/messages/\(message)/status/seen", nil),
            ("POST", "/api/messages/\(message)/reactions", ["reaction": ""]),
            ("POST", "/api/messages/\(message)/reactions", ["reaction": .string(String(repeating: "r", count: 51))]),
            ("DELETE", "/api/messages/msg_x/reactions/%F0%9F%91%8D", nil),
        ]
        let before = try await stack.simRequests()
        for (method, path, body) in cases {
            let response = try await stack.call(method, path, body, as: ann)
            #expect(response.status == 400, "\(method) \(path) \(body?.serialized() ?? ""): \(response.status) \(response.text)")
            #expect(response.json?["code"] == "bad_request", "\(path): \(response.text)")
        }
        let malformed = try await HTTPTestClient.send("POST", stack.chatd.baseURL + "/api/messages/dialog/\(dialog)",
                                                      headers: ["Authorization": "Bearer \(ann.token)", "Content-Type": "application/json"],
                                                      body: Data("{\"content\":".utf8))
        #expect(malformed.status == 400)
        let after = try await stack.simRequests()
        #expect(after.count == before.count, "Chat3 saw: \(Array(after.dropFirst(before.count)))")
        // The well-formed version of the image message goes through.
        let image = try await stack.call("POST", "/api/messages/dialog/\(dialog)",
                                         ["content": "pic", "type": "image", "meta": ["url": "https://example.org/a.png"]], as: ann)
        #expect(image.status == 201, "\(image.text)")
        #expect(image.json?["message"]?["type"] == "internal.image")
        await stack.stop()
    }

    @Test("with chat3-sim stopped chatd answers 503 chat3_unavailable within the timeout, /ready says so, and both recover when it returns")
    func outageAndRecovery() async throws {
        let stack = try await Chat3Stack.start()
        let ann = try await stack.user("Ann")
        #expect(try await stack.call("GET", "/api/dialogs", as: ann).status == 200)
        await stack.sim.stop()

        let clock = ContinuousClock()
        for _ in 0..<4 {
            let started = clock.now
            let response = try await stack.call("GET", "/api/dialogs", as: ann)
            #expect(response.status == 503)
            #expect(response.json?["code"] == "chat3_unavailable")
            // A refused connection fails at once and retries stay inside the 1 s budget; the bound
            // allows for a machine loaded by the whole parallel test run (2.9 s seen once in CI).
            #expect(clock.now - started < .seconds(3.5), "\(clock.now - started)")
        }
        #expect(try await stack.call("POST", "/api/dialogs", ["name": "x"], as: ann).json?["code"] == "chat3_unavailable")
        let notReady = try await HTTPTestClient.send("GET", stack.chatd.baseURL + "/ready")
        #expect(notReady.status == 503)
        #expect(notReady.json?["checks"]?["chat3"] == "down")

        let (sim, _) = try await Chat3Stack.startSim(stack.directory, port: stack.simPort)
        var recovered = false
        let deadline = clock.now + .seconds(10)
        while clock.now < deadline {
            if try await stack.call("GET", "/api/dialogs", as: ann).status == 200 { recovered = true; break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(recovered)
        let ready = try await HTTPTestClient.send("GET", stack.chatd.baseURL + "/ready")
        #expect(ready.json?["checks"]?["chat3"] == "up", "\(ready.text)")
        await sim.stop()
        await stack.stop()
    }

    @Test("a hanging Chat3 becomes 503 after the request timeout, and Chat3's 4xx and 5xx become our envelope without its body or the key")
    func faultsBecomeOurEnvelope() async throws {
        let stack = try await Chat3Stack.start()
        let ann = try await stack.user("Ann")
        let created = try await stack.call("POST", "/api/dialogs", ["name": "Faults"], as: ann)
        let dialog = try #require(created.json?["data"]?["dialogId"]?.stringValue)

        func expectClean(_ response: HTTPResult, status: Int, code: String) {
            #expect(response.status == status, "\(response.text)")
            #expect(response.json?["code"] == .string(code), "\(response.text)")
            #expect(response.json?["success"] == false)
            #expect(!response.text.contains("Simulated"))
            #expect(!response.text.contains(Chat3Stack.key))
        }

        // Chat3 hangs for 10 s; with a 1 s request timeout (and a retry inside that budget for a GET)
        // chatd answers long before. The bound leaves room for a loaded machine, not for the hang.
        try await stack.simHook("POST", "/_sim/fail", ["hangMs": 10_000, "count": 1])
        let clock = ContinuousClock()
        let started = clock.now
        expectClean(try await stack.call("GET", "/api/dialogs", as: ann), status: 503, code: "chat3_unavailable")
        #expect(clock.now - started < .seconds(5), "\(clock.now - started)")

        try await stack.simHook("POST", "/_sim/fail", ["status": 500, "count": 1, "method": "POST", "path": "/api/dialogs"])
        expectClean(try await stack.call("POST", "/api/dialogs", ["name": "x"], as: ann), status: 503, code: "chat3_unavailable")

        try await stack.simHook("POST", "/_sim/fail", ["status": 400, "count": 1, "method": "POST"])
        expectClean(try await stack.call("POST", "/api/messages/dialog/\(dialog)", ["content": "a"], as: ann),
                    status: 400, code: "bad_request")

        try await stack.simHook("POST", "/_sim/fail", ["status": 429, "count": 1, "method": "POST"])
        expectClean(try await stack.call("POST", "/api/messages/dialog/\(dialog)", ["content": "b"], as: ann),
                    status: 429, code: "rate_limited")

        try await stack.simHook("POST", "/_sim/fail", ["status": 404, "count": 1, "path": "/api/users"])
        expectClean(try await stack.call("GET", "/api/messages/dialog/\(dialog)", as: ann), status: 404, code: "not_found")

        // One 503 on an idempotent GET is retried inside chatd and never seen by the caller.
        try await stack.simHook("POST", "/_sim/fail", ["status": 503, "count": 1, "path": "/api/users"])
        #expect(try await stack.call("GET", "/api/dialogs", as: ann).status == 200)
        #expect(!stack.chatd.service.log.contains(Chat3Stack.key))
        await stack.stop()
    }
}
