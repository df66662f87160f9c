import ChatStore
import Foundation
import Testing
import TestSupport

/// The instance lock names a store by `StoreLocation.identity`: one store spelled two ways must be one
/// name, or two chatd on it would both take the lock and split each user's update stream.
@Suite("Store identity")
struct StoreLocationTests {
    static func identity(_ url: String) throws -> String { try StoreLocation(parsing: url).identity }

    @Test("one SQLite file reached through a symlinked directory, `.`, `..` or doubled slashes is one store; another file is not")
    func sqliteSpellings() throws {
        let directory = try TemporaryDirectory("store-identity")
        defer { directory.remove() }
        let real = directory.url.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: real, withIntermediateDirectories: true)
        let link = directory.path("link")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real.path)
        let file = real.appendingPathComponent("users.sqlite").path

        // Before the file exists (chatd creates it) and after.
        for created in [false, true] {
            if created { FileManager.default.createFile(atPath: file, contents: Data()) }
            let expected = try Self.identity("sqlite://\(file)")
            #expect(try Self.identity("sqlite://\(link)/users.sqlite") == expected, "created: \(created)")
            #expect(try Self.identity("sqlite://\(real.path)/./users.sqlite") == expected, "created: \(created)")
            #expect(try Self.identity("sqlite://\(real.path)//users.sqlite") == expected, "created: \(created)")
            #expect(try Self.identity("sqlite://\(link)/../data/users.sqlite") == expected, "created: \(created)")
            #expect(try Self.identity("sqlite://\(real.path)/other.sqlite") != expected)
        }
    }

    @Test("a MongoDB database is named by its hosts and database, whatever the credentials, options, host order, case or default port")
    func mongoSpellings() throws {
        let expected = try Self.identity("mongodb://db1.example:27017,db2.example:27018/chat")
        #expect(try Self.identity("mongodb://user:p%40ss@DB2.example:27018,db1.example/chat?replicaSet=rs0&tls=true") == expected)
        #expect(try Self.identity("mongodb://db1.example:27017,db2.example:27018/other") != expected)
        #expect(try Self.identity("mongodb://db1.example:27017,db3.example:27018/chat") != expected)
        // No database in the URL is the default one chatd uses.
        #expect(try Self.identity("mongodb://127.0.0.1") == Self.identity("mongodb://127.0.0.1:27017/chatpapp"))
        #expect(try Self.identity("mongodb://[::1]/chat") == Self.identity("mongodb://[::1]:27017/chat"))
        // The identity carries no secret.
        #expect(!(try Self.identity("mongodb://admin:hunter2@db1.example/chat")).contains("hunter2"))
    }
}
