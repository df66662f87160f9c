import Foundation
import Logging
import SocketIOConformance

// socketio-conformance [--port N] [--host H]: the server socket.io's engine.io-protocol and
// socket.io-protocol test suites run against (they expect port 3000). Prints "listening on <port>".
var port = 3000
var host = "127.0.0.1"
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--port": port = arguments.next().flatMap(Int.init) ?? port
    case "--host": host = arguments.next() ?? host
    default:
        FileHandle.standardError.write(Data("usage: socketio-conformance [--port N] [--host H]\n".utf8))
        exit(64)
    }
}
var logger = Logger(label: "socketio-conformance")
logger.logLevel = .notice
let server = ConformanceServer()
try await server.run(host: host, port: port, logger: logger) { port in
    FileHandle.standardOutput.write(Data("listening on \(port)\n".utf8))
}
