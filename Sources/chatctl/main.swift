import ChatCTL
import Foundation

let status = await ChatctlMain.run(Array(CommandLine.arguments.dropFirst()), context: .live())
exit(status)
