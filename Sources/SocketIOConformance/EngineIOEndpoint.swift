import SocketIO

/// What the HTTP glue needs from an Engine.IO server: the entry points of `SocketIOServer`, which the
/// raw Engine.IO echo (`EngineIOEchoServer`) offers too, so one glue serves both paths.
public protocol EngineIOEndpoint: Actor {
    associatedtype Connection: Sendable

    /// `address`: the client's, for per-address session caps (nil: not counted).
    func openPollingSession(headers: [String: String], address: String?) throws(EngineIORequestError) -> String
    /// A held GET; `onConnectionClose` registers what to run when its connection closes (nil: nothing).
    func poll(
        sid: String, onConnectionClose: (@Sendable (@escaping @Sendable () -> Void) -> Void)?
    ) async throws(EngineIORequestError) -> String
    func post(sid: String, body: String) async throws(EngineIORequestError)
    func close(sid: String)
    func sessionState(sid: String) -> EngineIOSession.State?
    func attachWebSocket(
        sid: String?, headers: [String: String], writer: any EngineIOWebSocketWriter, address: String?
    ) throws(EngineIORequestError) -> Connection
    func receive(_ text: String, on connection: Connection) async
    func receive(binary bytes: [UInt8], on connection: Connection) async
    func webSocketClosed(_ connection: Connection)
    /// Runs due heartbeats and timeouts now. The glue calls it before every request, so a session whose
    /// pong is overdue is gone when the next request asks, whatever the sweep interval.
    func sweep()
}

extension SocketIOServer: EngineIOEndpoint {
    public typealias Connection = EngineIOWebSocketConnection
}
