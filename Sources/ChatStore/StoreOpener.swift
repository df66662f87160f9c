import ChatCore
import Foundation

/// Where users live, parsed from `store.url`: `sqlite:///path/chatd.sqlite` or `mongodb://host/db`.
public enum StoreLocation: Equatable, Sendable {
    case sqlite(path: String)
    case mongo(url: String)

    public init(parsing url: String) throws(StoreError) {
        if url.hasPrefix("sqlite://") {
            let path = String(url.dropFirst("sqlite://".count))
            guard path.hasPrefix("/"), path.count > 1 else {
                throw .invalid("sqlite URL needs an absolute path, e.g. sqlite:///var/lib/chatd/chatd.sqlite")
            }
            self = .sqlite(path: path)
        } else if url.hasPrefix("mongodb://") || url.hasPrefix("mongodb+srv://") {
            self = .mongo(url: url)
        } else {
            throw .invalid("store URL must start with sqlite:// or mongodb://")
        }
    }

    /// The same store however its URL spells it, for the instance lock (two chatd on one store must not
    /// take it for two): a SQLite file by its real path (symlinks, `.`, `..` and doubled slashes resolved),
    /// a MongoDB database by its hosts (lowercased, sorted, the default port written out) and database
    /// name, without credentials or options.
    public var identity: String {
        switch self {
        case .sqlite(let path):
            return "sqlite://" + Self.realPath(path)
        case .mongo(let url):
            guard let schemeEnd = url.range(of: "://") else { return url }
            let scheme = url[..<schemeEnd.lowerBound].lowercased()
            var rest = url[schemeEnd.upperBound...]
            if let query = rest.firstIndex(of: "?") { rest = rest[..<query] }
            if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
            let slash = rest.firstIndex(of: "/")
            let database = slash.map { String(rest[rest.index(after: $0)...]) } ?? ""
            let hosts = rest[..<(slash ?? rest.endIndex)].split(separator: ",").map { host -> String in
                let host = host.lowercased()
                // An SRV name has no port; a bracketed IPv6 host has one only after "]".
                let hasPort = host.hasPrefix("[") ? host.contains("]:") : host.contains(":")
                return scheme == "mongodb" && !hasPort ? host + ":27017" : host
            }
            return "\(scheme)://\(hosts.sorted().joined(separator: ","))/\(database.isEmpty ? MongoURL.defaultDatabase : database)"
        }
    }

    /// `path` with symlinks resolved: the whole path when the file exists, else its directory's.
    private static func realPath(_ path: String) -> String {
        func resolved(_ path: String) -> String? {
            guard let pointer = realpath(path, nil) else { return nil }
            defer { free(pointer) }
            return String(cString: pointer)
        }
        if let full = resolved(path) { return full }
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let directory = url.deletingLastPathComponent().path
        return (resolved(directory) ?? directory) + "/" + url.lastPathComponent
    }

    /// The URL without credentials, for logs and status output.
    public var redacted: String {
        switch self {
        case .sqlite(let path): return "sqlite://\(path)"
        case .mongo(let url):
            guard let at = url.firstIndex(of: "@"), let scheme = url.range(of: "://") else { return url }
            return String(url[..<scheme.upperBound]) + "***@" + String(url[url.index(after: at)...])
        }
    }
}

public enum StoreOpener {
    /// Opens the store a URL names. Errors are `StoreError`s. A missing SQLite file is created only when
    /// `create` is set (chatd; `chatctl --create`), mode 0600, or 0660 owned by `group` when that group exists;
    /// admin tools open existing files only, so a mistyped path is an error rather than a new empty store.
    /// MongoDB creates databases on first write; there `create` changes nothing.
    public static func open(_ location: StoreLocation, create: Bool = true, group: String? = nil) async throws -> any UserStore {
        switch location {
        case .sqlite(let path): return try SQLiteUserStore(path: path, create: create, group: group)
        case .mongo(let url): return try MongoStoreBridge.open(url: url)
        }
    }
}
