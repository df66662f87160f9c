import ChatAuth
import ChatCore
import ChatStore
import Foundation
import Logging
import Testing

/// Captures codes instead of sending them; can be told to fail.
final class RecordingSender: CodeSender, @unchecked Sendable {
    // Guarded by `lock`; tests read it after the awaited calls return.
    private let lock = NSLock()
    private var sent: [(phone: String, code: String)] = []
    var failing = false

    func send(code: String, to phone: Phone) async throws {
        if lock.withLock({ failing }) { throw CodeSenderError(reason: "gateway down") }
        lock.withLock { sent.append((phone.digits, code)) }
    }

    var lastCode: String? { lock.withLock { sent.last?.code } }
    var count: Int { lock.withLock { sent.count } }
}

/// A mutable clock for expiry and cooldown tests.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current = Date(timeIntervalSince1970: 1_800_000_000)
    var now: Date { lock.withLock { current } }
    func advance(_ seconds: Double) { lock.withLock { current = current.addingTimeInterval(seconds) } }
}

struct LoginHarness {
    let store: SQLiteUserStore
    let sender = RecordingSender()
    let clock = TestClock()
    let service: LoginService
    let tokens: TokenService
    let directory: URL

    static let secret = String(repeating: "k", count: 48)

    init(policy: LoginPolicy = LoginPolicy()) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("login-\(UUID().uuidString)")
        store = try SQLiteUserStore(path: directory.appendingPathComponent("users.sqlite").path)
        tokens = await TokenService(secret: Self.secret, lifetimeSeconds: 3600, store: store)
        let clock = self.clock
        service = LoginService(store: store, policy: policy, codes: OneTimeCode(serverSecret: Self.secret, length: policy.codeLength),
                               sender: sender, tokens: tokens, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), now: { clock.now })
    }

    func cleanUp() async {
        await store.close()
        try? FileManager.default.removeItem(at: directory)
    }
}

@Suite("Phone login")
struct LoginServiceTests {
    let phone = "79001234567"

    @Test("a new phone with a name creates a user and sends a random code; the right code returns a token")
    func happyPath() async throws {
        let h = try await LoginHarness()
        let isNew = try await h.service.requestCode(phone: "+7 900 123-45-67", name: "Ann", clientAddress: "10.0.0.1")
        #expect(isNew)
        let code = try #require(h.sender.lastCode)
        #expect(code.count == 4 && code.allSatisfy(\.isNumber))
        let (token, user) = try await h.service.verifyCode(phone: phone, code: code, clientAddress: "10.0.0.1")
        #expect(user.name.value == "Ann")
        let (authenticated, _) = try await h.tokens.authenticate(token)
        #expect(authenticated.userId == user.userId)
        await h.cleanUp()
    }

    @Test("codes are stored only as a hash")
    func hashedAtRest() async throws {
        let h = try await LoginHarness(policy: LoginPolicy(codeLength: 6))
        _ = try await h.service.requestCode(phone: phone, name: "Ann", clientAddress: "a")
        let code = try #require(h.sender.lastCode)
        let user = try #require(try await h.store.user(phone: Phone(normalizing: phone)))
        let stored = try #require(try await h.store.verification(id: user.userId))
        #expect(!stored.codeHash.contains(code))
        #expect(stored.codeHash.count == 64)
        // Keyed: a plain SHA-256 of the code (trivially brute-forced for short codes) is not what is kept.
        #expect(stored.codeHash != OTPHasher.sha256Hex(code))
        #expect(stored.codeHash != OTPHasher.sha256Hex("\(user.userId.rawValue):\(code)"))
        await h.cleanUp()
    }

    @Test("codes vary between requests")
    func codesVary() async throws {
        let codes = OneTimeCode(serverSecret: LoginHarness.secret, length: 6)
        let drawn = Set((0..<200).map { _ in codes.generate() })
        #expect(drawn.count > 190)
        #expect(drawn.allSatisfy { $0.count == 6 })
    }

    @Test("an existing phone is never renamed by request-code, and needs no name")
    func noRename() async throws {
        let h = try await LoginHarness()
        _ = try await h.service.requestCode(phone: phone, name: "Ann", clientAddress: "a")
        h.clock.advance(61)
        let isNew = try await h.service.requestCode(phone: phone, name: "Mallory", clientAddress: "a")
        #expect(!isNew)
        #expect(try await h.store.user(phone: Phone(normalizing: phone))?.name.value == "Ann")
        await h.cleanUp()
    }

    @Test("a new phone without a name is refused and creates nothing")
    func nameRequired() async throws {
        let h = try await LoginHarness()
        await #expect(throws: AuthError.nameRequired) {
            try await h.service.requestCode(phone: phone, name: nil, clientAddress: "a")
        }
        #expect(try await h.store.listUsers(UserQuery()).isEmpty)
        await h.cleanUp()
    }

    @Test("a second request within the cooldown is refused with the seconds left")
    func cooldown() async throws {
        let h = try await LoginHarness()
        _ = try await h.service.requestCode(phone: phone, name: "Ann", clientAddress: "a")
        h.clock.advance(20)
        await #expect(throws: AuthError.cooldown(retryAfterSeconds: 40)) {
            try await h.service.requestCode(phone: phone, name: nil, clientAddress: "a")
        }
        h.clock.advance(41)
        _ = try await h.service.requestCode(phone: phone, name: nil, clientAddress: "a")
        #expect(h.sender.count == 2)
        await h.cleanUp()
    }

    @Test("five wrong codes in parallel lock the code, even the right one afterwards")
    func parallelWrongAttempts() async throws {
        let h = try await LoginHarness()
        _ = try await h.service.requestCode(phone: phone, name: "Ann", clientAddress: "a")
        let right = try #require(h.sender.lastCode)
        let wrong = right == "0000" ? "1111" : "0000"
        let outcomes = await withTaskGroup(of: AuthError?.self) { group in
            for _ in 0..<12 {
                group.addTask {
                    do { _ = try await h.service.verifyCode(phone: phone, code: wrong, clientAddress: "10.0.0.1"); return nil } catch {
                        return error as? AuthError
                    }
                }
            }
            var all: [AuthError?] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        // Twelve at once pass the per-phone failure limit of ten: a few are refused by it instead (429).
        #expect(outcomes.allSatisfy { outcome in
            if case .rateLimited? = outcome { return true }
            return outcome == .invalidCode || outcome == .tooManyAttempts
        })
        #expect(outcomes.filter { $0 == .invalidCode }.count == 4)
        let user = try #require(try await h.store.user(phone: Phone(normalizing: phone)))
        #expect(try await h.store.verification(id: user.userId)?.attempts == 5)
        await #expect(throws: AuthError.tooManyAttempts) {
            try await h.service.verifyCode(phone: phone, code: right, clientAddress: "10.0.0.1")
        }
        await h.cleanUp()
    }

    @Test("a code expires after its lifetime")
    func expiry() async throws {
        let h = try await LoginHarness()
        _ = try await h.service.requestCode(phone: phone, name: "Ann", clientAddress: "a")
        let code = try #require(h.sender.lastCode)
        h.clock.advance(301)
        await #expect(throws: AuthError.codeExpired) { try await h.service.verifyCode(phone: phone, code: code, clientAddress: "10.0.0.1") }
        await h.cleanUp()
    }

    @Test("a code works once")
    func singleUse() async throws {
        let h = try await LoginHarness()
        _ = try await h.service.requestCode(phone: phone, name: "Ann", clientAddress: "a")
        let code = try #require(h.sender.lastCode)
        _ = try await h.service.verifyCode(phone: phone, code: code, clientAddress: "10.0.0.1")
        await #expect(throws: AuthError.invalidCode) { try await h.service.verifyCode(phone: phone, code: code, clientAddress: "10.0.0.1") }
        await h.cleanUp()
    }

    @Test("a failing sender leaves no usable code")
    func senderFailure() async throws {
        let h = try await LoginHarness()
        h.sender.failing = true
        await #expect(throws: AuthError.senderFailed) {
            try await h.service.requestCode(phone: phone, name: "Ann", clientAddress: "a")
        }
        let user = try #require(try await h.store.user(phone: Phone(normalizing: phone)))
        #expect(try await h.store.verification(id: user.userId) == nil)
        await h.cleanUp()
    }

    @Test("per-phone and per-address hourly limits answer with the time to wait")
    func hourlyLimits() async throws {
        let h = try await LoginHarness(policy: LoginPolicy(resendCooldownSeconds: 0, phoneHourlyLimit: 2, ipHourlyLimit: 3))
        _ = try await h.service.requestCode(phone: phone, name: "Ann", clientAddress: "ip1")
        _ = try await h.service.requestCode(phone: phone, name: nil, clientAddress: "ip2")
        do {
            _ = try await h.service.requestCode(phone: phone, name: nil, clientAddress: "ip3")
            Issue.record("third code for one phone within an hour was allowed")
        } catch AuthError.rateLimited(let seconds) {
            #expect(seconds > 0 && seconds <= 3600)
        }
        for index in 0..<3 {
            _ = try? await h.service.requestCode(phone: "7900000000\(index)", name: "X", clientAddress: "ip9")
        }
        await #expect(throws: AuthError.self) {
            try await h.service.requestCode(phone: "79000000009", name: "X", clientAddress: "ip9")
        }
        await h.cleanUp()
    }

    @Test("eleven requests in a minute cost one code: the owner gets a code after the cooldown, the limit still holds")
    func cooldownRefusalsDoNotCount() async throws {
        let h = try await LoginHarness()
        _ = try await h.service.requestCode(phone: phone, name: "Ann", clientAddress: "attacker")
        for _ in 0..<10 {
            h.clock.advance(5)
            await #expect(throws: AuthError.self) {
                try await h.service.requestCode(phone: phone, name: nil, clientAddress: "attacker")
            }
        }
        h.clock.advance(11)
        _ = try await h.service.requestCode(phone: phone, name: nil, clientAddress: "owner")
        #expect(h.sender.count == 2)
        // Eight more codes, one per cooldown, reach the hourly limit of ten; the eleventh is refused.
        for _ in 0..<8 {
            h.clock.advance(61)
            _ = try await h.service.requestCode(phone: phone, name: nil, clientAddress: "owner")
        }
        h.clock.advance(61)
        await #expect(throws: AuthError.self) {
            try await h.service.requestCode(phone: phone, name: nil, clientAddress: "owner")
        }
        #expect(h.sender.count == 10)
        await h.cleanUp()
    }

    @Test("wrong codes across fresh codes are limited per phone for the hour, and a correct code does not count")
    func verifyFailuresPerPhone() async throws {
        let h = try await LoginHarness(policy: LoginPolicy(resendCooldownSeconds: 0, verifyPhoneHourlyLimit: 10))
        _ = try await h.service.requestCode(phone: phone, name: "Ann", clientAddress: "a")
        // Two successful logins: they must not use up the failure budget.
        for _ in 0..<2 {
            _ = try await h.service.requestCode(phone: phone, name: nil, clientAddress: "a")
            _ = try await h.service.verifyCode(phone: phone, code: try #require(h.sender.lastCode), clientAddress: "a")
        }
        var refusedAfter: Int?
        guessing: for round in 0..<10 {
            _ = try await h.service.requestCode(phone: phone, name: nil, clientAddress: "a")
            let right = try #require(h.sender.lastCode)
            let wrong = right == "0000" ? "1111" : "0000"
            for attempt in 0..<2 {
                do {
                    // A different address each time: the phone's limit holds against a spread attacker.
                    _ = try await h.service.verifyCode(phone: phone, code: wrong, clientAddress: "10.1.\(round).\(attempt)")
                } catch AuthError.rateLimited(let seconds) {
                    #expect(seconds > 0 && seconds <= 3600)
                    refusedAfter = round * 2 + attempt
                    break guessing
                } catch AuthError.invalidCode {}
            }
        }
        #expect(refusedAfter == 10)
        // Even the right code is refused now, until the window ends.
        let right = try #require(h.sender.lastCode)
        await #expect(throws: AuthError.self) { try await h.service.verifyCode(phone: phone, code: right, clientAddress: "b") }
        h.clock.advance(3600)
        _ = try await h.service.requestCode(phone: phone, name: nil, clientAddress: "a")
        _ = try await h.service.verifyCode(phone: phone, code: try #require(h.sender.lastCode), clientAddress: "a")
        await h.cleanUp()
    }

    @Test("parallel wrong codes from one address never pass its limit")
    func verifyFailuresPerAddressConcurrently() async throws {
        let h = try await LoginHarness(policy: LoginPolicy(resendCooldownSeconds: 0, verifyIPHourlyLimit: 20))
        let phones = (0..<10).map { "7900555000\($0)" }
        for phone in phones { _ = try await h.service.requestCode(phone: phone, name: "X", clientAddress: "setup") }
        let service = h.service
        let counted = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<40 {
                group.addTask {
                    do {
                        _ = try await service.verifyCode(phone: phones[index % 10], code: "0000", clientAddress: "10.9.9.9")
                        return false
                    } catch AuthError.rateLimited { return true } catch { return false }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        // Each phone's code takes at most 5 attempts; of 40 guesses at most 20 were let through.
        #expect(counted.filter { !$0 }.count <= 20)
        #expect(counted.filter { $0 }.count >= 20)
        await h.cleanUp()
    }

    @Test("a disabled user cannot request or verify codes")
    func disabled() async throws {
        let h = try await LoginHarness()
        _ = try await h.service.requestCode(phone: phone, name: "Ann", clientAddress: "a")
        let code = try #require(h.sender.lastCode)
        let user = try #require(try await h.store.user(phone: Phone(normalizing: phone)))
        _ = try await h.store.setStatus(id: user.userId, to: .disabled)
        await #expect(throws: AuthError.accountDisabled) { try await h.service.verifyCode(phone: phone, code: code, clientAddress: "10.0.0.1") }
        await h.cleanUp()
    }
}
