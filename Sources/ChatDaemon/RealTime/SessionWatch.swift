import ChatAuth
import ChatCore
import Foundation
import Logging
import SocketIO

/// Keeps open sockets in step with their tokens. A socket is authenticated once, at CONNECT; after that
/// it is closed
/// - at once when this instance learns of the change: a logout here or relayed from another instance
///   (`closeSessions(tokenID:)`), a kick (`RealTimeHub.kick`);
/// - when its token's `exp` passes (the watch wakes for the earliest expiry it knows);
/// - within one `interval` of a change written by any other process that never told this one (`chatctl
///   token revoke`, a disable while chatd was unreachable, a lost relay message): every interval the
///   watch asks the store, in batches, about the distinct token ids and users of the open sockets.
///
/// The store being unreachable closes nothing: a socket is closed for a refusal the store answered, not
/// for an outage (HTTP refuses meanwhile anyway).
struct SessionWatch: Sendable {
    let server: SocketIOServer
    let tokens: TokenService
    let interval: Duration
    let logger: Logger
    let now: @Sendable () -> Date

    /// Closes every local socket that connected with the token `tokenID`; returns how many.
    @discardableResult
    func closeSessions(tokenID: String) async -> Int {
        let sockets = await server.connectedSockets.filter { $0.value.tokenID == tokenID }.keys
        for socket in sockets { await server.disconnect(socket) }
        return sockets.count
    }

    /// Closes the sockets whose token has expired; memory only. Returns how many.
    @discardableResult
    func closeExpired() async -> Int {
        let time = now().timeIntervalSince1970
        let expired = await server.connectedSockets.filter { ($0.value.tokenExpiresAt ?? .infinity) <= time }.keys
        for socket in expired { await server.disconnect(socket) }
        return expired.count
    }

    /// One pass over the open sockets: expired tokens, revoked tokens, disabled or deleted users.
    /// Returns how many sockets it closed.
    @discardableResult
    func recheck() async -> Int {
        let expired = await closeExpired()
        let open = await server.connectedSockets
        guard !open.isEmpty else { return expired }
        // Grouped once: filtering every open socket per token and per user was quadratic in the sockets.
        var byToken: [String: [SocketID]] = [:], byUser: [UserID: [SocketID]] = [:]
        for (socket, user) in open {
            if let tokenID = user.tokenID { byToken[tokenID, default: []].append(socket) }
            byUser[user.userID, default: []].append(socket)
        }
        var closing: Set<SocketID> = []
        do {
            // Two batched reads however many sockets are open, instead of two store calls per socket.
            for tokenID in try await tokens.revoked(among: Array(byToken.keys)) {
                closing.formUnion(byToken[tokenID] ?? [])
            }
            let active = try await tokens.active(among: Array(byUser.keys))
            for (userId, sockets) in byUser where !active.contains(userId) {
                tokens.forget(user: userId)
                closing.formUnion(sockets)
            }
        } catch {
            logger.warning("session recheck could not read the store", metadata: ["error": "\(error)"])
        }
        for socket in closing { await server.disconnect(socket) }
        if !closing.isEmpty {
            logger.notice("sessions closed by recheck", metadata: ["socket.count": "\(closing.count)"])
        }
        return expired + closing.count
    }

    /// Asks the store every `interval`; between those, looks at expiries at least once a second (memory
    /// only), and wakes just after the earliest known expiry, so a socket closes within a second of `exp`.
    func run() async {
        let clock = ContinuousClock()
        var nextStoreCheck = clock.now
        while !Task.isCancelled {
            if clock.now >= nextStoreCheck {
                await recheck()
                nextStoreCheck = clock.now + interval
            } else {
                await closeExpired()
            }
            var wait = min(.seconds(1), nextStoreCheck - clock.now)
            if let earliest = await server.connectedSockets.values.compactMap(\.tokenExpiresAt).min() {
                // A little past exp, so the token is expired when the pass looks at it.
                let untilExpiry = earliest - now().timeIntervalSince1970 + 0.02
                wait = min(wait, .milliseconds(Int64(untilExpiry * 1000)))
            }
            try? await Task.sleep(for: max(.milliseconds(20), wait))
        }
    }
}
