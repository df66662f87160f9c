import ChatCore
import Testing

@Suite("Trusted proxies and X-Forwarded-For")
struct TrustedProxiesTests {
    let proxies = try! TrustedProxies(parsing: "127.0.0.1, 10.0.0.0/8, ::1, fd00::/8")

    @Test("addresses and CIDR ranges, IPv4 and IPv6, are matched by prefix")
    func matching() {
        #expect(proxies.trusts("127.0.0.1"))
        #expect(!proxies.trusts("127.0.0.2"))
        #expect(proxies.trusts("10.200.3.4"))
        #expect(!proxies.trusts("11.0.0.1"))
        #expect(proxies.trusts("::1"))
        #expect(proxies.trusts("fd12:3456::1"))
        #expect(!proxies.trusts("fe80::1"))
        #expect(!proxies.trusts("not an address"))
        let odd = try! TrustedProxies(parsing: "192.168.1.128/25")
        #expect(odd.trusts("192.168.1.200"))
        #expect(!odd.trusts("192.168.1.127"))
    }

    @Test("a trusted peer's header names the right-most untrusted hop; anyone else's header is ignored")
    func clientAddress() {
        // Behind our nginx: the client's address is what nginx appended.
        #expect(proxies.clientAddress(peer: "127.0.0.1", forwardedFor: "203.0.113.7") == "203.0.113.7")
        // A client that sends its own header cannot choose its address: nginx appends the real one.
        #expect(proxies.clientAddress(peer: "127.0.0.1", forwardedFor: "1.2.3.4, 203.0.113.7") == "203.0.113.7")
        // Several trusted hops are skipped.
        #expect(proxies.clientAddress(peer: "10.0.0.5", forwardedFor: "198.51.100.9, 10.0.0.9, 127.0.0.1") == "198.51.100.9")
        // Every hop trusted: the left-most is the origin.
        #expect(proxies.clientAddress(peer: "127.0.0.1", forwardedFor: "10.1.1.1, 10.0.0.9") == "10.1.1.1")
        // A direct client's header means nothing.
        #expect(proxies.clientAddress(peer: "198.51.100.1", forwardedFor: "127.0.0.1") == "198.51.100.1")
        #expect(proxies.clientAddress(peer: "127.0.0.1", forwardedFor: nil) == "127.0.0.1")
        // Garbage in the last hop is not believed.
        #expect(proxies.clientAddress(peer: "127.0.0.1", forwardedFor: "evil-host") == "127.0.0.1")
        #expect(TrustedProxies.none.clientAddress(peer: "127.0.0.1", forwardedFor: "203.0.113.7") == "127.0.0.1")
    }

    @Test("per-address caps count IPv4 as it is, IPv4-mapped IPv6 as IPv4, and IPv6 by its /64")
    func limitKeys() {
        #expect(TrustedProxies.limitKey("203.0.113.7") == "203.0.113.7")
        #expect(TrustedProxies.limitKey("::ffff:203.0.113.7") == "203.0.113.7")
        #expect(TrustedProxies.limitKey("2001:db8:1:2::a") == "2001:db8:1:2::/64")
        #expect(TrustedProxies.limitKey("2001:db8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64")
        #expect(TrustedProxies.limitKey("2001:db8:1:3::a") == "2001:db8:1:3::/64")
        #expect(TrustedProxies.limitKey("::1") == "0:0:0:0::/64")
        #expect(TrustedProxies.limitKey("unknown") == "unknown")
        #expect(proxies.limitAddress(peer: "127.0.0.1", forwardedFor: "2001:db8::5") == "2001:db8:0:0::/64")
    }

    @Test("bad entries are refused with the entry named", arguments: ["10.0.0.0/33", "300.1.1.1", "nginx", "::1/129", "1.2.3.4/x"])
    func refused(entry: String) {
        #expect(throws: TrustedProxiesError.invalid(entry)) { try TrustedProxies(parsing: "127.0.0.1, \(entry)") }
    }
}
