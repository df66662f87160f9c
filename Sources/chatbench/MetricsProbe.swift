import NIOCore
import NIOHTTP1
import NIOPosix

/// Reads one gauge from chatd's Prometheus `/metrics`.
enum MetricsProbe {
    static func gauge(_ name: String, chatd: String) async -> Int? {
        guard let target = try? HTTPTarget(chatd.hasSuffix("/") ? chatd + "metrics" : chatd + "/metrics"),
              let body = await fetch(target) else { return nil }
        for line in body.split(separator: "\n") where line.hasPrefix(name) {
            let parts = line.split(separator: " ")
            if parts.count >= 2, parts[0] == name || parts[0].hasPrefix("\(name){"), let value = Double(parts[parts.count - 1]) {
                return Int(value)
            }
        }
        return nil
    }

    /// One GET on a fresh connection; nil on any failure or a non-2xx status.
    static func fetch(_ target: HTTPTarget) async -> String? {
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: String?.self)
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.path)
        head.headers.add(name: "Host", value: target.hostHeader)
        head.headers.add(name: "Connection", value: "close")
        let requestHead = head
        do {
            _ = try await ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(OneShotHandler(head: requestHead, done: promise))
                    }
                }
                .connect(host: target.host, port: target.port).get()
            return try await promise.futureResult.get()
        } catch {
            promise.succeed(nil)
            return nil
        }
    }

    private final class OneShotHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart
        private let head: HTTPRequestHead
        private let done: EventLoopPromise<String?>
        private var body = ""
        private var ok = false

        init(head: HTTPRequestHead, done: EventLoopPromise<String?>) {
            self.head = head
            self.done = done
        }

        func channelActive(context: ChannelHandlerContext) {
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let response): ok = (200..<300).contains(response.status.code)
            case .body(let buffer): body += String(buffer: buffer)
            case .end:
                done.succeed(ok ? body : nil)
                context.close(promise: nil)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            done.succeed(nil)
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            done.succeed(nil)
        }
    }
}
