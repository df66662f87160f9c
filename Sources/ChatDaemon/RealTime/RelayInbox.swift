import ChatAuth
import Logging
import ServiceLifecycle

/// Acts on what other instances relay (`RoomRelay.incoming`), in arrival order: room emits and presence
/// go to this instance's sockets, kicks and logouts close them. Built after the hub it feeds, so neither
/// the relay nor the hub is wired after construction.
struct RelayInbox: Service {
    let incoming: AsyncStream<RoomRelay.Incoming>
    let hub: RealTimeHub
    let tokens: TokenService
    let logger: Logger

    func run() async {
        for await message in incoming.cancelOnGracefulShutdown() {
            switch message {
            case .room(let event, let arguments, let room):
                await hub.deliverRelayed(event: event, args: arguments, room: room)
            case .presence(let origin, let notice):
                await hub.deliverPresence(from: origin, notice)
            case .gone(let origin):
                await hub.instanceGone(origin)
            case .kick(let user):
                tokens.forget(user: user)
                await hub.kick(user: user)
                logger.notice("user kicked on another instance's request", metadata: ["user.id": "\(user)"])
            case .revoke(let tokenID):
                tokens.forget(tokenID: tokenID)
                let closed = await hub.closeSessions(tokenID: tokenID)
                if closed > 0 { logger.notice("sessions closed on another instance's logout", metadata: ["socket.count": "\(closed)"]) }
            }
        }
    }
}
