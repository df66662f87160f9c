import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import SocketIO

/// Engine.IO over Hummingbird for any `EngineIOEndpoint` mounted at a path: long-polling on the router,
/// WebSocket through the HTTP/1 upgrade. The same shape as chatd's RealTime routes, without chatd's
/// concerns (draining, CORS, the authenticator's headers).
struct EngineIOMount<Endpoint: EngineIOEndpoint> {
    let path: String
    let endpoint: Endpoint
    let maxPayload: Int

    func register(on router: Router<BasicRequestContext>) {
        router.get(RouterPath(path)) { request, _ in await get(request) }
        router.post(RouterPath(path)) { request, _ in await post(request) }
        // Any other method is a bad request, as the reference server answers it.
        router.put(RouterPath(path)) { _, _ in Self.refusal(.badRequest) }
        router.delete(RouterPath(path)) { _, _ in Self.refusal(.badRequest) }
        router.patch(RouterPath(path)) { _, _ in Self.refusal(.badRequest) }
    }

    func get(_ request: Request) async -> Response {
        await endpoint.sweep()
        let target: EngineIORequestTarget
        do throws(EngineIORequestError) { target = try EngineIORequestTarget(query: Self.query(request.uri)) } catch {
            return Self.refusal(error)
        }
        guard let sid = target.sid else {
            guard target.transport == .polling else { return Self.refusal(.badRequest) }
            do throws(EngineIORequestError) {
                return Self.text(try await endpoint.openPollingSession(headers: [:], address: nil))
            } catch {
                return Self.refusal(error)
            }
        }
        guard target.transport == .polling else {
            let known = await endpoint.sessionState(sid: sid) != nil
            return Self.refusal(known ? .badRequest : .unknownSessionID)
        }
        do throws(EngineIORequestError) { return Self.text(try await endpoint.poll(sid: sid, onConnectionClose: nil)) } catch {
            return Self.refusal(error)
        }
    }

    func post(_ request: Request) async -> Response {
        await endpoint.sweep()
        let target: EngineIORequestTarget
        do throws(EngineIORequestError) { target = try EngineIORequestTarget(query: Self.query(request.uri)) } catch {
            return Self.refusal(error)
        }
        guard let sid = target.sid else { return Self.refusal(.badHandshakeMethod) }
        guard target.transport == .polling else { return Self.refusal(.badRequest) }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxPayload)
        } catch {
            await endpoint.close(sid: sid)
            return Self.refusal(.payloadTooLarge)
        }
        do throws(EngineIORequestError) {
            try await endpoint.post(sid: sid, body: String(buffer: body))
            return Self.text("ok")
        } catch {
            return Self.refusal(error)
        }
    }

    /// `.some(sid)` (nil for a new session) when the upgrade request is for this mount.
    func upgradeTarget(_ request: HTTPRequest) async -> String?? {
        guard request.method == .get, let rawPath = request.path else { return nil }
        let uri = URI(rawPath)
        guard uri.path == path || uri.path == path + "/",
              let target = try? EngineIORequestTarget(query: Self.query(uri)),
              target.transport == .websocket
        else { return nil }
        guard let sid = target.sid else { return .some(nil) }
        // Only a polling session can upgrade: a second WebSocket is refused before the 101.
        return await endpoint.sessionState(sid: sid) == .polling ? .some(sid) : nil
    }

    /// Pumps one WebSocket: inbound frames to the endpoint in order, its frames out. Whichever side
    /// ends first ends both.
    func serve(sid: String?, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter,
               channel: any Channel, logger: Logger) async {
        await endpoint.sweep()
        let outbox = WebSocketOutbox()
        let connection: Endpoint.Connection
        do {
            connection = try await endpoint.attachWebSocket(sid: sid, headers: [:], writer: outbox, address: nil)
        } catch {
            logger.debug("websocket refused", metadata: ["error": "\(error)"])
            return
        }
        let endpoint = self.endpoint
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await message in inbound.messages(maxSize: maxPayload + 1024) {
                        switch message {
                        case .text(let text): await endpoint.receive(text, on: connection)
                        case .binary(let buffer): await endpoint.receive(binary: Array(buffer.readableBytesView), on: connection)
                        }
                    }
                } catch {
                    logger.debug("websocket read failed", metadata: ["error": "\(error)"])
                }
            }
            group.addTask {
                for await frame in outbox.frames {
                    do {
                        switch frame {
                        case .text(let text): try await outbound.write(.text(text))
                        case .binary(let bytes): try await outbound.write(.binary(ByteBuffer(bytes: bytes)))
                        }
                    } catch { return }
                }
                guard !Task.isCancelled else { return }
                try? await outbound.close(.normalClosure, reason: nil)
                try? await Task.sleep(for: .seconds(2))
                if !Task.isCancelled { channel.close(promise: nil) }
            }
            await group.next()
            group.cancelAll()
        }
        await endpoint.webSocketClosed(connection)
    }

    // MARK: Helpers

    static func query(_ uri: URI) -> [String: String] {
        var query: [String: String] = [:]
        for (key, value) in uri.queryParameters where query[String(key)] == nil {
            query[String(key)] = String(value)
        }
        return query
    }

    static func text(_ body: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=UTF-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func refusal(_ error: EngineIORequestError) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: HTTPResponse.Status(code: error.httpStatus), headers: headers,
                        body: .init(byteBuffer: ByteBuffer(string: error.body)))
    }
}

/// The WebSocket writer of the conformance server: text frames, and binary frames for Engine.IO
/// messages carrying bytes. `EngineIOSession` hands those over in their polling form, `b<base64>`;
/// over WebSocket they go as binary frames (`EngineIOPacketData(webSocketFrame:)`).
final class WebSocketOutbox: EngineIOWebSocketWriter {
    typealias Frame = EngineIOPacketData

    let frames: AsyncStream<Frame>
    private let continuation: AsyncStream<Frame>.Continuation

    init() {
        (frames, continuation) = AsyncStream.makeStream(of: Frame.self, bufferingPolicy: .bufferingOldest(4096))
    }

    func write(_ text: String) {
        if case .dropped = continuation.yield(Frame(webSocketFrame: text)) { continuation.finish() }
    }

    func close() { continuation.finish() }
}
