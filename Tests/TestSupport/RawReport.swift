/// What the raw Engine.IO client (`tools/testclients/eio_raw.py`) printed: RECEIVED, DUPLICATES, PINGS, IDS.
public struct RawReport: Sendable {
    public var received = 0
    public var duplicates = 0
    /// Pings the client answered while reading events.
    public var pings = 0
    public var ids: [String] = []

    public init(_ log: String) {
        for line in log.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "RECEIVED": received = Int(parts[1]) ?? -1
            case "DUPLICATES": duplicates = Int(parts[1]) ?? -1
            case "PINGS": pings = Int(parts[1]) ?? -1
            case "IDS": ids = parts[1].split(separator: ",").map(String.init)
            default: break
            }
        }
    }
}
