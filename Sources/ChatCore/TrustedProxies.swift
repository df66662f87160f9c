import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Which peers may tell chatd the client's address in `X-Forwarded-For` (the reverse proxies in front
/// of it), and how that header is read. Without it every client behind nginx has nginx's address, and
/// per-address limits would count all of them together.
///
/// Entries are IPv4 or IPv6 addresses or CIDR ranges (`10.0.0.0/8`, `::1`). The header is read from the
/// right: each trusted hop is skipped and the first untrusted address is the client, so a client cannot
/// pick its own address by sending the header itself.
public struct TrustedProxies: Sendable, Equatable {
    struct Range: Sendable, Equatable {
        var address: [UInt8]
        var prefixLength: Int

        func contains(_ candidate: [UInt8]) -> Bool {
            guard candidate.count == address.count else { return false }
            var remaining = prefixLength
            for index in 0..<address.count where remaining > 0 {
                let bits = min(8, remaining)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                if candidate[index] & mask != address[index] & mask { return false }
                remaining -= bits
            }
            return true
        }
    }

    let ranges: [Range]

    public static let none = TrustedProxies(ranges: [])

    init(ranges: [Range]) { self.ranges = ranges }

    /// Parses comma-separated entries; throws with the offending entry.
    public init(parsing text: String) throws(TrustedProxiesError) {
        var ranges: [Range] = []
        for raw in text.split(separator: ",") {
            let entry = raw.trimmingCharacters(in: .whitespaces)
            if entry.isEmpty { continue }
            let parts = entry.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2, let address = Self.bytes(of: String(parts[0])) else { throw .invalid(entry) }
            let maximum = address.count * 8
            var length = maximum
            if parts.count == 2 {
                guard let given = Int(parts[1]), (0...maximum).contains(given) else { throw .invalid(entry) }
                length = given
            }
            ranges.append(Range(address: address, prefixLength: length))
        }
        self.ranges = ranges
    }

    public var isEmpty: Bool { ranges.isEmpty }

    public func trusts(_ address: String) -> Bool {
        guard let bytes = Self.bytes(of: address) else { return false }
        return ranges.contains { $0.contains(bytes) }
    }

    /// The client's address: the peer itself unless the peer is a trusted proxy that forwarded the
    /// request, in which case the right-most untrusted `X-Forwarded-For` entry (or the left-most entry,
    /// when every hop is trusted).
    public func clientAddress(peer: String, forwardedFor: String?) -> String {
        guard trusts(peer), let forwardedFor else { return peer }
        let hops = forwardedFor.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for hop in hops.reversed() where !trusts(hop) {
            // Anything that is not an address (a name, "unknown", garbage) is not believed.
            return Self.bytes(of: hop) == nil ? peer : hop
        }
        return hops.first ?? peer
    }

    /// The name a client address is counted under by the per-address caps: an IPv4 address as it is
    /// (an IPv4-mapped IPv6 one as its IPv4 form), an IPv6 address as its /64. One IPv6 host usually
    /// holds a whole /64 (SLAAC, privacy addresses, a mobile PDP context) and can pick any address in
    /// it, so counting single IPv6 addresses would let one client past every per-address cap.
    /// Anything else (a Unix socket peer, "unknown") as it is.
    public static func limitKey(_ address: String) -> String {
        guard let bytes = bytes(of: address), bytes.count == 16 else { return address }
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            return bytes[12...].map(String.init).joined(separator: ".")
        }
        let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
        return groups.joined(separator: ":") + "::/64"
    }

    /// `clientAddress` as the per-address caps count it (`limitKey`).
    public func limitAddress(peer: String, forwardedFor: String?) -> String {
        Self.limitKey(clientAddress(peer: peer, forwardedFor: forwardedFor))
    }

    /// 4 bytes for IPv4, 16 for IPv6, nil for anything else.
    static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}

public enum TrustedProxiesError: Error, Equatable, CustomStringConvertible {
    case invalid(String)

    public var description: String {
        switch self {
        case .invalid(let entry): "\"\(entry)\" is not an IP address or CIDR range"
        }
    }
}
