import ArgumentParser
import ChatAuth
import ChatConfig
import ChatControl
import ChatCore
import Foundation

public struct TokenCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Mint, inspect and revoke JWTs exactly as chatd issues and checks them.",
        subcommands: [TokenMint.self, TokenInspect.self, TokenRevoke.self])
    public init() {}
}

/// A token argument: the JWT itself, or `-` to read it from stdin (one line), so it never shows in `ps`
/// or the shell's history.
enum TokenArgument {
    static let help = ArgumentHelp("The JWT, or - to read it from stdin (keeps it out of ps and shell history).")

    static func read(_ argument: String, _ context: CTLContext) throws -> String {
        guard argument == "-" else { return argument }
        guard let line = context.readLine() else { throw CTLError.badInput("no token on stdin") }
        let token = line.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw CTLError.badInput("no token on stdin") }
        return token
    }
}

extension GlobalOptions {
    /// chatd's token service over the configured store and secret.
    func tokenService(_ context: CTLContext) async throws -> TokenService {
        let settings = try loader(context).jwtSettings()
        let store = try await openStore(context)
        return await TokenService(secret: settings.secret, lifetimeSeconds: settings.lifetimeSeconds, store: store)
    }
}

struct TokenMint: CTLCommand {
    static let configuration = CommandConfiguration(commandName: "mint", abstract: "Issue a token for a user.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "The userId (usr_…).") var user: String
    @Option(help: "Lifetime, e.g. 48h, 30m (default: jwt.expires_in).") var ttl: String?

    func run(_ context: CTLContext) async throws {
        let id = try parseUserID(user)
        var lifetime: Double?
        if let ttl {
            guard let seconds = DurationText.seconds(ttl), seconds > 0 else { throw CTLError.badInput("--ttl '\(ttl)' is not a duration like 30m or 48h") }
            lifetime = seconds
        }
        let tokens = try await global.tokenService(context)
        let store = try await global.openStore(context)
        defer { Task { await store.close() } }
        guard let found = try await store.user(id: id) else { throw CTLError.failure("no user \(id)") }
        guard found.status == .active else { throw CTLError.failure("user \(id) is disabled; chatd would refuse its tokens") }
        let token = try await tokens.mint(for: found, lifetimeSeconds: lifetime)
        if global.json {
            context.print(Output.json(["token": token]))
        } else {
            context.print(token)
        }
    }
}

struct TokenInspect: CTLCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Show a token's claims, whether chatd would accept it, and why not.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: TokenArgument.help) var token: String

    func run(_ context: CTLContext) async throws {
        let token = try TokenArgument.read(token, context)
        let tokens = try await global.tokenService(context)
        let claims = JWTSegment.json(token, part: 1)
        var verdict = "valid"
        do { _ = try await tokens.authenticate(token) } catch let error as AuthError {
            verdict = TokenVerdict.describe(error)
        }
        if global.json {
            struct Inspection: Encodable { let valid: Bool; let reason: String?; let claims: JSONValue? }
            context.print(Output.json(Inspection(valid: verdict == "valid", reason: verdict == "valid" ? nil : verdict,
                                                 claims: claims)))
        } else {
            if let claims { context.print("claims: \(claims.serialized())") } else { context.print("claims: (unreadable)") }
            context.print(verdict == "valid" ? "valid" : "invalid: \(verdict)")
        }
        if verdict != "valid" { throw CTLError.failure("token is not valid: \(verdict)") }
    }
}

struct TokenRevoke: CTLCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a token until it expires.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: TokenArgument.help) var token: String

    func run(_ context: CTLContext) async throws {
        let token = try TokenArgument.read(token, context)
        let tokens = try await global.tokenService(context)
        let claims: SessionClaims
        do { claims = try await tokens.verifySignature(token) } catch {
            throw CTLError.badInput("not a token chatd issued: \(TokenVerdict.describe(error))")
        }
        try await tokens.revoke(claims)
        // The store now refuses the token; chatd is asked to close its open sockets at once (without
        // that, every chatd closes them at its next session recheck).
        let closed = await closeSockets(of: claims.jti.value, context)
        if global.json {
            context.print(Output.json(["revoked": claims.jti.value]))
        } else {
            context.print("revoked \(claims.jti.value) (user \(claims.userId))")
        }
        if let closed { context.log("chatd closed \(closed) socket\(closed == 1 ? "" : "s") of the token") }
    }

    /// How many sockets chatd closed, or nil (with a line on stderr) when it could not be asked: the
    /// revocation stands either way.
    private func closeSockets(of jti: String, _ context: CTLContext) async -> Int? {
        let client: ControlClient
        do { client = ControlClient(socketPath: try global.controlSocketPath(context), timeoutSeconds: 10) } catch {
            context.log("chatctl: warning: cannot find chatd's control socket (\(CTLError(error).message)); any chatd closes the token's sockets at its next session recheck")
            return nil
        }
        do {
            let answer: RevokeResult = try await client.call(.revoke, body: RevokeRequest(jti: jti))
            return answer.sockets
        } catch .notRunning {
            context.log("chatd is not running (nothing listens on \(client.socketPath)); any chatd elsewhere closes the token's sockets at its next session recheck")
        } catch {
            context.log("chatctl: warning: chatd did not close the token's sockets: \(CTLError(error).message); they close at its next session recheck")
        }
        return nil
    }
}

enum TokenVerdict {
    static func describe(_ error: AuthError) -> String {
        switch error {
        case .invalidToken(let why): why
        case .revoked: "revoked"
        case .unknownUser: "user no longer exists"
        case .accountDisabled: "user is disabled"
        default: "\(error)"
        }
    }
}
