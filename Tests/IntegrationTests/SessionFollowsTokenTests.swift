import ChatCore
import Foundation
import Testing
import TestSupport

/// Open sockets follow their token: logout, revocation, disable, delete and expiry close them on every
/// instance. Two real chatd instances on one broker and store, real python-socketio clients.
///
/// Two bounds are tested: what an instance is told (logout, a kick through a control socket) closes the
/// sockets on every instance over the relay, well before the session recheck (set to 60 s there, so only
/// the relay can explain a close); what only the store knows (`chatctl token revoke`, a disable while chatd
/// was unreachable) closes them within `auth.session_recheck` (the default 5 s there).
@Suite("Sessions follow their token", .serialized)
struct SessionFollowsTokenTests {
    /// The default `auth.session_recheck`, the stated bound for changes only the store knows.
    static let recheckBound = 5.0
    /// What a loaded CI machine may add to a bound: a pass's store reads, the close, the client noticing.
    static let slack = 5.0
    static let sameCodeCooldown = "[auth]\nresend_cooldown = \"0s\"\n"

    static func connect(_ baseURL: String, _ token: String) async throws -> ScriptedSocketClient {
        let client = try ScriptedSocketClient(url: baseURL, token: token, transports: "websocket")
        try await client.waitFor { $0["connected"] == true }
        return client
    }

    /// Seconds until `client` reports the server closed it.
    static func secondsUntilClosed(_ client: ScriptedSocketClient, since start: Date, timeout: Double) async throws -> Double {
        _ = try await client.waitFor(timeout: timeout) { $0["disconnected"] == true }
        return Date().timeIntervalSince(start)
    }

    @Test("a logout closes that token's sockets on both instances through the relay; the user's other session stays")
    func logoutClosesEverywhere() async throws {
        try await CrossInstanceRealTimeTests.withCluster(extraConfig: Self.sameCodeCooldown,
                                                         extraEnvironment: ["CHATD_SESSION_RECHECK": "60s"]) { cluster in
            let (east, west) = (cluster.east, cluster.west)
            let phone = "79003330001"
            let first = try await CrossInstanceRealTimeTests.login(east.baseURL, directory: cluster.directory, phone: phone, name: "Dora")
            let second = try await CrossInstanceRealTimeTests.login(west.baseURL, directory: cluster.directory, phone: phone, name: "Dora")
            let onEast = try await Self.connect(east.baseURL, first.token)
            let onWest = try await Self.connect(west.baseURL, first.token)
            let otherSession = try await Self.connect(west.baseURL, second.token)
            defer { Task { await onEast.stop(); await onWest.stop(); await otherSession.stop() } }

            let start = Date()
            let logout = try await HTTPTestClient.json("POST", "\(east.baseURL)/api/auth/logout", nil, token: first.token)
            #expect(logout.status == 200, "\(logout.text)")
            #expect(try await Self.secondsUntilClosed(onEast, since: start, timeout: Self.slack) < Self.slack)
            #expect(try await Self.secondsUntilClosed(onWest, since: start, timeout: Self.slack) < Self.slack)
            // The other token's socket is untouched and still served.
            let me = try await HTTPTestClient.json("GET", "\(west.baseURL)/api/auth/me", nil, token: second.token)
            #expect(me.status == 200)
            #expect(!otherSession.received.contains { $0["disconnected"] == true })
            #expect(try await HTTPTestClient.json("GET", "\(west.baseURL)/api/auth/me", nil, token: first.token).status == 401)
        }
    }

    @Test("chatctl token revoke, written to the store only, closes the token's sockets on both instances within auth.session_recheck")
    func storeRevocationReachesOpenSockets() async throws {
        try await CrossInstanceRealTimeTests.withCluster { cluster in
            let erin = try await CrossInstanceRealTimeTests.login(cluster.east.baseURL, directory: cluster.directory,
                                                                  phone: "79003330002", name: "Erin")
            let onEast = try await Self.connect(cluster.east.baseURL, erin.token)
            let onWest = try await Self.connect(cluster.west.baseURL, erin.token)
            defer { Task { await onEast.stop(); await onWest.stop() } }

            let start = Date()
            // No control socket: chatctl writes the revocation and tells no chatd.
            let revoked = try await runCommand(ChatBinaries.path("chatctl"), ["token", "revoke", erin.token],
                                               environment: cluster.environment.merging(
                                                   ["CHATD_CONTROL_SOCKET": cluster.directory.path("nobody.sock")]) { $1 })
            #expect(revoked.status == 0, "\(revoked.stderr)")
            let bound = Self.recheckBound + Self.slack
            #expect(try await Self.secondsUntilClosed(onEast, since: start, timeout: bound) < bound)
            #expect(try await Self.secondsUntilClosed(onWest, since: start, timeout: bound) < bound)
        }
    }

    @Test("chatctl token revoke with a reachable chatd closes the token's sockets on both instances at once; the user's other token stays")
    func revocationThroughControlSocket() async throws {
        try await CrossInstanceRealTimeTests.withCluster(extraConfig: Self.sameCodeCooldown,
                                                         extraEnvironment: ["CHATD_SESSION_RECHECK": "60s"]) { cluster in
            let phone = "79003330007"
            let revokedLogin = try await CrossInstanceRealTimeTests.login(cluster.east.baseURL, directory: cluster.directory,
                                                                          phone: phone, name: "Ivan")
            let kept = try await CrossInstanceRealTimeTests.login(cluster.west.baseURL, directory: cluster.directory,
                                                                  phone: phone, name: "Ivan")
            let onEast = try await Self.connect(cluster.east.baseURL, revokedLogin.token)
            let onWest = try await Self.connect(cluster.west.baseURL, revokedLogin.token)
            let other = try await Self.connect(cluster.west.baseURL, kept.token)
            defer { Task { await onEast.stop(); await onWest.stop(); await other.stop() } }

            let start = Date()
            let revoked = try await runCommand(ChatBinaries.path("chatctl"), ["token", "revoke", revokedLogin.token],
                                               environment: cluster.environment.merging(
                                                   ["CHATD_CONTROL_SOCKET": cluster.directory.path("east.sock")]) { $1 })
            #expect(revoked.status == 0, "\(revoked.stderr)")
            #expect(revoked.stderr.contains("chatd closed 1 socket of the token"), "\(revoked.stderr)")
            // The recheck is a minute away: only the control request and the relay explain these closes.
            #expect(try await Self.secondsUntilClosed(onEast, since: start, timeout: Self.slack) < Self.slack)
            #expect(try await Self.secondsUntilClosed(onWest, since: start, timeout: Self.slack) < Self.slack)
            #expect(!other.received.contains { $0["disconnected"] == true })
            #expect(try await HTTPTestClient.json("GET", "\(cluster.west.baseURL)/api/auth/me", nil, token: kept.token).status == 200)
            #expect(try await HTTPTestClient.json("GET", "\(cluster.east.baseURL)/api/auth/me", nil, token: revokedLogin.token).status == 401)
        }
    }

    @Test("a disable while chatd was unreachable still closes the user's sockets on both instances within auth.session_recheck")
    func disableWithoutKick() async throws {
        try await CrossInstanceRealTimeTests.withCluster { cluster in
            let finn = try await CrossInstanceRealTimeTests.login(cluster.west.baseURL, directory: cluster.directory,
                                                                  phone: "79003330003", name: "Finn")
            let onEast = try await Self.connect(cluster.east.baseURL, finn.token)
            let onWest = try await Self.connect(cluster.west.baseURL, finn.token)
            defer { Task { await onEast.stop(); await onWest.stop() } }

            let start = Date()
            let disabled = try await runCommand(ChatBinaries.path("chatctl"), ["user", "disable", finn.userId],
                                                environment: cluster.environment.merging(
                                                    ["CHATD_CONTROL_SOCKET": cluster.directory.path("nobody.sock")]) { $1 })
            #expect(disabled.status == 0, "\(disabled.stderr)")
            #expect(disabled.stderr.contains("session recheck"), "chatctl says the kick did not reach chatd: \(disabled.stderr)")
            let bound = Self.recheckBound + Self.slack
            #expect(try await Self.secondsUntilClosed(onEast, since: start, timeout: bound) < bound)
            #expect(try await Self.secondsUntilClosed(onWest, since: start, timeout: bound) < bound)
        }
    }

    @Test("chatctl user delete through one instance closes the user's socket on the other through the relay")
    func deleteClosesEverywhere() async throws {
        try await CrossInstanceRealTimeTests.withCluster(extraEnvironment: ["CHATD_SESSION_RECHECK": "60s"]) { cluster in
            let gail = try await CrossInstanceRealTimeTests.login(cluster.west.baseURL, directory: cluster.directory,
                                                                  phone: "79003330004", name: "Gail")
            let onEast = try await Self.connect(cluster.east.baseURL, gail.token)
            let onWest = try await Self.connect(cluster.west.baseURL, gail.token)
            defer { Task { await onEast.stop(); await onWest.stop() } }

            let start = Date()
            let deleted = try await runCommand(ChatBinaries.path("chatctl"), ["user", "delete", gail.userId, "--yes"],
                                               environment: cluster.environment.merging(
                                                   ["CHATD_CONTROL_SOCKET": cluster.directory.path("east.sock")]) { $1 })
            #expect(deleted.status == 0, "\(deleted.stderr)")
            #expect(try await Self.secondsUntilClosed(onEast, since: start, timeout: Self.slack) < Self.slack)
            #expect(try await Self.secondsUntilClosed(onWest, since: start, timeout: Self.slack) < Self.slack)
        }
    }

    @Test("a socket is closed when its token expires, on both instances, and not before")
    func expiryClosesSockets() async throws {
        // 15 s: long enough that a loaded machine still logs in and connects both sockets before `exp`.
        try await CrossInstanceRealTimeTests.withCluster(extraEnvironment: ["JWT_EXPIRES_IN": "15s",
                                                                            "CHATD_SESSION_RECHECK": "60s"]) { cluster in
            let hana = try await CrossInstanceRealTimeTests.login(cluster.east.baseURL, directory: cluster.directory,
                                                                  phone: "79003330005", name: "Hana")
            let claims = try #require(Self.payload(hana.token))
            let expiresAt = Date(timeIntervalSince1970: try #require(claims["exp"]?.doubleValue))
            let onEast = try await Self.connect(cluster.east.baseURL, hana.token)
            let onWest = try await Self.connect(cluster.west.baseURL, hana.token)
            defer { Task { await onEast.stop(); await onWest.stop() } }

            for client in [onEast, onWest] {
                _ = try await client.waitFor(timeout: 15 + Self.slack) { $0["disconnected"] == true }
                let late = Date().timeIntervalSince(expiresAt)
                #expect(late > -0.5, "closed \(-late) s before exp")
                #expect(late < Self.slack, "closed \(late) s after exp")
            }
        }
    }

    @Test("a member removed from a dialog leaves its room: no more typing from it, cannot type into it or rejoin")
    func removedMemberLeavesRoom() async throws {
        try await CrossInstanceRealTimeTests.withCluster { cluster in
            let (directory, east, west) = (cluster.directory, cluster.east, cluster.west)
            let alice = try await CrossInstanceRealTimeTests.login(east.baseURL, directory: directory, phone: "79003330011", name: "Alice")
            let bob = try await CrossInstanceRealTimeTests.login(west.baseURL, directory: directory, phone: "79003330012", name: "Bob")
            let carl = try await CrossInstanceRealTimeTests.login(west.baseURL, directory: directory, phone: "79003330013", name: "Carl")
            let created = try await HTTPTestClient.json("POST", "\(east.baseURL)/api/dialogs",
                                                         ["name": "ABC", "memberIds": [.string(bob.userId), .string(carl.userId)]],
                                                         token: alice.token)
            #expect(created.status == 201, "\(created.text)")
            let dialogId = try #require(created.json?["data"]?["dialogId"]?.stringValue)
            var clients: [ScriptedSocketClient] = []
            defer { for client in clients { Task { await client.stop() } } }
            for (baseURL, token) in [(east.baseURL, alice.token), (west.baseURL, bob.token), (west.baseURL, carl.token)] {
                let client = try await Self.connect(baseURL, token)
                clients.append(client)
                client.emit("dialog:join", .string(dialogId), ack: true)
                let joined = try await client.waitFor { $0["ack"] == "dialog:join" }
                #expect(joined["data"]?["ok"] == true, "\(joined)")
            }
            let (onAlice, onBob, onCarl) = (clients[0], clients[1], clients[2])

            let removed = try await HTTPTestClient.json("DELETE", "\(east.baseURL)/api/dialogs/\(dialogId)/members/\(bob.userId)",
                                                         nil, token: alice.token)
            #expect(removed.status == 200, "\(removed.text)")
            // Bob hears of his removal (his own update), and from then on the room is closed to him.
            _ = try await onBob.waitForEvent("chat3:update") { $0["eventType"] == "dialog.member.remove" }

            onAlice.emit("typing:start", ["dialogId": .string(dialogId)], ack: true)
            // Carl, on Bob's instance and still in the room, gets it: the relay reached west.
            _ = try await onCarl.waitForEvent("typing:start") { $0["userId"]?.stringValue == alice.userId }
            onBob.emit("typing:start", ["dialogId": .string(dialogId)], ack: true)
            let refused = try await onBob.waitFor { $0["ack"] == "typing:start" }
            #expect(refused["data"]?["ok"] == false, "\(refused)")
            // Frames on one socket arrive in order: had Alice's typing been sent to Bob (at the moment it
            // went to Carl), it would have come before this ack.
            #expect(onBob.events("typing:start").isEmpty, "\(onBob.events("typing:start"))")
            #expect(onBob.events("typing:update").isEmpty)
            onBob.emit("dialog:join", .string(dialogId), ack: true)
            let rejoin = try await onBob.waitFor { $0["ack"] == "dialog:join" && $0["data"]?["ok"] == false }
            #expect(rejoin["data"]?["code"] == "forbidden", "\(rejoin)")
            #expect(onAlice.events("typing:start").isEmpty, "Bob's typing reached the room")
        }
    }

    /// The JWT's claims, read without checking (the test minted nothing itself).
    static func payload(_ token: String) -> JSONValue? {
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { return nil }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).flatMap { try? JSONValue.parse($0) }
    }
}
