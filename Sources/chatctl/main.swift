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
// The one place chatctl reads its environment and the terminal; the commands get them in the context.
let context = CTLContext(
    environment: ProcessInfo.processInfo.environment,
    write: { FileHandle.standardOutput.write(Data($0.utf8)) },
    writeError: { FileHandle.standardError.write(Data($0.utf8)) },
    stdinIsTerminal: isatty(STDIN_FILENO) == 1)
let status = await ChatctlMain.run(arguments, context: context)
exit(status)
