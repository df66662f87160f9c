import ChatConfig
import ChatCore
import ChatDaemon
import ChatStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import TestSupport

/// chatd's router in-process, over a fresh SQLite store, with codes captured from a command sender.
struct DaemonHarness {
    let directory: TemporaryDirectory
    let services: DaemonServices

    init(extraEnvironment: [String: String] = [:]) async throws {
        directory = try TemporaryDirectory("daemon")
        var environment = [
            "CHATD_STORE": "sqlite://\(directory.path("users.sqlite"))",
            "CHATD_STATE_DIR": directory.url.path,
            "CHATD_CONFIG": "/dev/null",
            "JWT_SECRET": String(repeating: "j", count: 40),
            "SMS_SENDER": "command",
            "SMS_COMMAND": "echo \"$SMS_PHONE $SMS_CODE\" >> '\(directory.path("codes"))'",
        ]
        environment.merge(extraEnvironment) { $1 }
        let config = try ConfigLoader(environment: environment).load()
        services = try await Daemon.prepare(config: config, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    func lastCode(for phone: String) -> String? {
        let text = (try? String(contentsOfFile: directory.path("codes"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").last { $0.hasPrefix(phone + " ") }.map { String($0.split(separator: " ")[1]) }
    }

    func test(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = Application(router: Daemon.buildRouter(services))
        try await app.test(.router) { client in try await body(client) }
    }

    func userCount() async throws -> Int { try await services.store.listUsers(UserQuery(limit: 1000)).count }

    func cleanUp() async {
        await services.store.close()
        directory.remove()
    }
}

extension TestClientProtocol {
    func post(_ path: String, _ body: String, token: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    func get(_ path: String, token: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await execute(uri: path, method: .get, headers: headers)
    }
}

extension TestResponse {
    var json: JSONValue? { try? JSONValue.parse(body.readableBytesView) }
}

@Suite("Auth routes")
struct AuthRoutesTests {
    @Test("request-code, verify-code, me and logout work, and the token is refused after logout")
    func loginFlow() async throws {
        let h = try await DaemonHarness()
        try await h.test { client in
            let requested = try await client.post("/api/auth/request-code", #"{"phone":"+7 (900) 123-45-67","name":"Ann"}"#)
            #expect(requested.status == .ok)
            #expect(requested.json?["isNewUser"] == true)
            #expect(requested.json?["success"] == true)
            let code = try #require(h.lastCode(for: "79001234567"))
            let verified = try await client.post("/api/auth/verify-code", #"{"phone":"79001234567","code":"\#(code)"}"#)
            #expect(verified.status == .ok)
            let token = try #require(verified.json?["token"]?.stringValue)
            #expect(verified.json?["user"]?["name"] == "Ann")
            let me = try await client.get("/api/auth/me", token: token)
            #expect(me.status == .ok)
            #expect(me.json?["user"]?["phone"] == "79001234567")
            let logout = try await client.post("/api/auth/logout", "", token: token)
            #expect(logout.status == .ok)
            let after = try await client.get("/api/auth/me", token: token)
            #expect(after.status == .unauthorized)
            #expect(after.json?["code"] == "unauthorized")
        }
        await h.cleanUp()
    }

    @Test("a second request within the cooldown gets 429 with Retry-After")
    func cooldown() async throws {
        let h = try await DaemonHarness()
        try await h.test { client in
            _ = try await client.post("/api/auth/request-code", #"{"phone":"79001234567","name":"Ann"}"#)
            let again = try await client.post("/api/auth/request-code", #"{"phone":"79001234567"}"#)
            #expect(again.status == .tooManyRequests)
            let retryAfter = try #require(again.headers[.retryAfter].flatMap { Int($0) })
            #expect(retryAfter > 0 && retryAfter <= 60)
        }
        await h.cleanUp()
    }

    @Test("phones written with combining marks or other digits get 400 and create no user", arguments: [
        "7\u{0301}9001234567", "7900123456\u{0338}7", "79001234567\u{20E3}", "\u{0667}\u{0669}001234567",
    ])
    func unicodePhones(phone: String) async throws {
        let h = try await DaemonHarness()
        try await h.test { client in
            let body = JSONValue.object(["phone": .string(phone), "name": "Ann"]).serialized()
            let response = try await client.post("/api/auth/request-code", body)
            #expect(response.status == .badRequest)
            #expect(response.json?["success"] == false)
            let verify = try await client.post("/api/auth/verify-code",
                                               JSONValue.object(["phone": .string(phone), "code": "1234"]).serialized())
            #expect(verify.status == .badRequest)
        }
        #expect(try await h.userCount() == 0)
        await h.cleanUp()
    }

    @Test("wrong codes across fresh codes from one address get 429 with Retry-After before the 50th")
    func verifyFailuresPerAddress() async throws {
        let h = try await DaemonHarness()
        try await h.test { client in
            // 25 users with a fresh code each, so the per-code limit of 5 never comes into play.
            try await HourWindow.awaitRoom(seconds: 180)
            let phones = (0..<25).map { "790066600\(String(format: "%02d", $0))" }
            for phone in phones {
                let requested = try await client.post("/api/auth/request-code", #"{"phone":"\#(phone)","name":"X"}"#)
                try #require(requested.status == .ok)
            }
            var refusedAt: Int?
            for guess in 0..<50 {
                let phone = phones[guess % phones.count]
                let right = try #require(h.lastCode(for: phone))
                let wrong = right == "0000" ? "1111" : "0000"
                let response = try await client.post("/api/auth/verify-code", #"{"phone":"\#(phone)","code":"\#(wrong)"}"#)
                if response.status == .tooManyRequests {
                    let retryAfter = try #require(response.headers[.retryAfter].flatMap { Int($0) })
                    #expect(retryAfter > 0 && retryAfter <= 3600)
                    #expect(response.json?["code"] == "rate_limited")
                    refusedAt = guess
                    break
                }
                #expect(response.status != .ok)
            }
            let first = try #require(refusedAt)
            #expect(first < 49)
            #expect(first == 20) // the default auth.verify_ip_hourly_limit
        }
        await h.cleanUp()
    }

    static let badRequestCodeBodies: [(String, HTTPResponse.Status)] = [
        ("{bad json", .badRequest),
        ("", .badRequest),
        ("[]", .badRequest),
        (#""just a string""#, .badRequest),
        (#"{"phone":79001234567,"name":"Ann"}"#, .badRequest),
        (#"{"phone":"79001234567","name":42}"#, .badRequest),
        (#"{"phone":"79001234567","name":{"$gt":""}}"#, .badRequest),
        (#"{"phone":{"$ne":null},"name":"Ann"}"#, .badRequest),
        (#"{"name":"Ann"}"#, .badRequest),
        (#"{"phone":"79001234567"}"#, .badRequest),
        (#"{"phone":"7900abc4567","name":"Ann"}"#, .badRequest),
        (#"{"phone":"12345","name":"Ann"}"#, .badRequest),
        (#"{"phone":"7900123456789012","name":"Ann"}"#, .badRequest),
        (#"{"phone":"79001234567","name":"   "}"#, .badRequest),
        (#"{"phone":"79001234567","name":"Ann\u0000"}"#, .badRequest),
        (#"{"phone":"79001234567","name":"\#(String(repeating: "x", count: 101))"}"#, .badRequest),
    ]

    @Test("bad request-code bodies get a 4xx JSON error and leave the store unchanged", arguments: badRequestCodeBodies)
    func badRequestCode(body: String, status: HTTPResponse.Status) async throws {
        let h = try await DaemonHarness()
        try await h.test { client in
            let response = try await client.post("/api/auth/request-code", body)
            #expect(response.status == status)
            #expect(response.json?["success"] == false)
            #expect(response.json?["code"]?.stringValue?.isEmpty == false)
            #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
        }
        #expect(try await h.userCount() == 0)
        await h.cleanUp()
    }

    @Test("a 2 MB body gets 413 and changes nothing")
    func oversizedBody() async throws {
        let h = try await DaemonHarness()
        try await h.test { client in
            let huge = #"{"phone":"79001234567","name":""# + String(repeating: "a", count: 2 << 20) + #""}"#
            let response = try await client.post("/api/auth/request-code", huge)
            #expect(response.status == .contentTooLarge)
            #expect(response.json?["code"] == "payload_too_large")
        }
        #expect(try await h.userCount() == 0)
        await h.cleanUp()
    }

    @Test("names with unicode and injection text are stored literally", arguments: [
        "Аня Смирнова 🙂", "'; DROP TABLE users; --", "<script>alert(1)</script>", "{\"$gt\": \"\"}", "Robert'); --",
    ])
    func literalNames(name: String) async throws {
        let h = try await DaemonHarness()
        try await h.test { client in
            let body = JSONValue.object(["phone": "79001234567", "name": .string(name)]).serialized()
            let response = try await client.post("/api/auth/request-code", body)
            #expect(response.status == .ok)
        }
        let stored = try await h.services.store.user(phone: Phone(normalizing: "79001234567"))
        #expect(stored?.name.value == name)
        #expect(try await h.userCount() == 1)
        await h.cleanUp()
    }

    static let badVerifyBodies: [String] = [
        "{bad", "", "[]", #"{"phone":"79001234567"}"#, #"{"code":"1234"}"#, #"{"phone":"79001234567","code":1234}"#,
        #"{"phone":"79001234567","code":"12a4"}"#, #"{"phone":"79001234567","code":"123"}"#,
        #"{"phone":"bad","code":"1234"}"#, #"{"phone":"79001234567","code":{"$ne":""}}"#,
    ]

    @Test("bad verify-code bodies get 400 and do not use up attempts", arguments: badVerifyBodies)
    func badVerify(body: String) async throws {
        let h = try await DaemonHarness()
        try await h.test { client in
            _ = try await client.post("/api/auth/request-code", #"{"phone":"79001234567","name":"Ann"}"#)
            let response = try await client.post("/api/auth/verify-code", body)
            #expect(response.status == .badRequest)
            #expect(response.json?["success"] == false)
        }
        let user = try #require(try await h.services.store.user(phone: Phone(normalizing: "79001234567")))
        #expect(try await h.services.store.verification(id: user.userId)?.attempts == 0)
        await h.cleanUp()
    }

    @Test("protected routes refuse missing and malformed Authorization headers", arguments: [
        nil, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not.a.jwt", "bearer eyJhbGciOiJub25lIn0.e30.",
    ])
    func unauthorized(header: String?) async throws {
        let h = try await DaemonHarness()
        try await h.test { client in
            var headers: HTTPFields = [:]
            if let header { headers[.authorization] = header }
            let response = try await client.execute(uri: "/api/auth/me", method: .get, headers: headers)
            #expect(response.status == .unauthorized)
            #expect(response.json?["code"] == "unauthorized")
        }
        await h.cleanUp()
    }

    @Test("unknown routes get a JSON 404 and responses carry security headers")
    func notFoundAndHeaders() async throws {
        let h = try await DaemonHarness()
        try await h.test { client in
            let response = try await client.get("/nothing/here")
            #expect(response.status == .notFound)
            #expect(response.json?["success"] == false)
            #expect(response.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            #expect(response.headers[HTTPField.Name("X-Frame-Options")!] == "SAMEORIGIN")
            let health = try await client.get("/health")
            #expect(health.status == .ok)
        }
        await h.cleanUp()
    }
}
