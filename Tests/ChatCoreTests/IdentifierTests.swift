import ChatCore
import Testing

@Suite("Identifiers")
struct IdentifierTests {
    @Test("phones in common notations normalize to digits", arguments: [
        ("79001234567", "79001234567"),
        ("+7 (900) 123-45-67", "79001234567"),
        ("+7 900 123 45 67", "79001234567"),
        ("8 900 123-45-67", "79001234567"),
        ("  +44 20 7946 0958 ", "442079460958"),
    ])
    func phoneNormalizes(input: String, expected: String) throws {
        #expect(try Phone(normalizing: input).digits == expected)
    }

    @Test("malformed phones are refused", arguments: [
        "", "   ", "7900123456a", "+7 900 ABC 45 67", "12345", "1234567890123456", "79001234567+", "++79001234567",
        "7900\u{0}1234567", "0790012345678", "79001234567; DROP TABLE users",
        // Each is "79001234567" to the eye: combining marks on digits, other scripts' digits, odd spaces.
        "7\u{0301}9001234567", "79001234567\u{20E3}", "7900123456\u{0338}7", "\u{0667}9001234567",
        "７9001234567", "+7\u{00A0}900 123 45 67", "+7 900 123 45 67\u{200B}", "\u{FEFF}79001234567",
    ])
    func phoneRejects(input: String) {
        #expect(throws: ValidationError.self) { try Phone(normalizing: input) }
    }

    @Test("names are trimmed and limited to 100 characters without control characters")
    func names() throws {
        #expect(try UserName(validating: "  Ann  ").value == "Ann")
        #expect(try UserName(validating: "Аня 🙂").value == "Аня 🙂")
        #expect(try UserName(validating: String(repeating: "я", count: 100)).value.count == 100)
        #expect(throws: ValidationError.self) { try UserName(validating: String(repeating: "я", count: 101)) }
        #expect(throws: ValidationError.self) { try UserName(validating: " \n\t ") }
        #expect(throws: ValidationError.self) { try UserName(validating: "Ann\u{7}") }
    }

    @Test("generated user ids match usr_ and 8 characters of a-z0-9")
    func userIDFormat() {
        for _ in 0..<1000 {
            let id = UserID.generate().rawValue
            #expect(id.wholeMatch(of: /usr_[a-z0-9]{8}/) != nil)
        }
    }

    @Test("user id characters are spread evenly over the 36-letter alphabet")
    func userIDUnbiased() {
        var counts: [Character: Int] = [:]
        let samples = 20_000
        for _ in 0..<samples {
            for char in UserID.generate().rawValue.dropFirst(4) { counts[char, default: 0] += 1 }
        }
        #expect(counts.count == 36)
        let expected = Double(samples * 8) / 36
        // Chi-squared with 35 degrees of freedom: 99.9th percentile is about 66.6.
        let chiSquared = counts.values.reduce(0.0) { sum, count in
            let difference = Double(count) - expected
            return sum + difference * difference / expected
        }
        #expect(chiSquared < 66.6, "chi-squared \(chiSquared)")
    }

    @Test("user ids of other shapes are refused", arguments: [
        "usr_ABCDEFGH", "usr_abc", "usr_abcdefghi", "dlg_abcdefgh", "usr_abcd/../x", "usr_abcdefg.", "",
    ])
    func userIDRejects(text: String) {
        #expect(UserID(rawValue: text) == nil)
    }

    @Test("URL passwords are masked in any text; user, host and port stay", arguments: [
        ("amqp://chatd:s3cret@rabbit.local:5672/vh", "amqp://chatd:***@rabbit.local:5672/vh"),
        ("store unavailable: mongodb://admin:p%40ss@db1:27017,db2:27017/chat?tls=true failed",
         "store unavailable: mongodb://admin:***@db1:27017,db2:27017/chat?tls=true failed"),
        ("two: http://a:b@h1 and https://c:d@h2:8443/x", "two: http://a:***@h1 and https://c:***@h2:8443/x"),
        ("url=\"https://u:pw@sms.example/send\"", "url=\"https://u:***@sms.example/send\""),
        ("no password: amqp://guest@h:5672/ and http://h:80/p", "no password: amqp://guest@h:5672/ and http://h:80/p"),
        ("plain text, no URL", "plain text, no URL"),
        ("mongodb://u:pa:ss@h/db", "mongodb://u:***@h/db"),
    ])
    func secretMask(input: String, expected: String) {
        #expect(SecretMask.urlPasswords(in: input) == expected)
    }
}
