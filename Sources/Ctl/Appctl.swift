import Glibc
import Shared

/// `appctl` from argv to exit status: read the command line, find the
/// socket, run the command. Each step's failure has its own exit status.
enum Appctl {
    static func main(
        _ arguments: [String], console: Console,
        environment: @escaping (String) -> String? = { getenv($0).map { String(cString: $0) } }
    ) -> ExitCode {
        let parsed: ParsedCommandLine
        do {
            parsed = try CommandLineParser.parse(Array(arguments.dropFirst()))
        } catch {
            console.err.write(error.rendered)
            return .usage
        }
        switch parsed {
        case .help(let text):
            console.out.write(text + "\n")
            return .success
        case .version:
            console.out.write("appctl \(AppdVersion.current)\n")
            return .success
        case .run(let command):
            let locator = SocketLocator(environment: environment, fileExists: { access($0, F_OK) == 0 })
            let socketPath: String
            do {
                socketPath = try locator.socketPath(for: command.socket)
            } catch {
                console.err.write("appctl: \(error)\n")
                return .usage
            }
            return CommandRunner(console: console).run(command, socketPath: socketPath)
        }
    }
}
