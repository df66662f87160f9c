import ChatCTL
import Foundation
import Logging

let arguments = Array(CommandLine.arguments.dropFirst())
// Results go to stdout, so logs (of drivers too) go to stderr, and only with -v.
let verbose = arguments.contains("-v") || arguments.contains("--verbose")
LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = verbose ? .debug : .critical
    return handler
}
let status = await ChatctlMain.run(arguments, context: .live())
exit(status)
