import Foundation
import Testing

extension EndToEnd {
    /// What a command that ran to completion did.
    struct CommandResult: Sendable, CustomStringConvertible {
        var pid: Int32
        var termination: ChildProcess.Termination
        var stdout: String
        var stderr: String

        /// Exited (not killed) with this code.
        func exited(_ code: Int32) -> Bool { termination == .init(exited: true, code: code) }
        var exitedWithFailure: Bool { termination.exited && termination.code != 0 }

        var description: String { "pid \(pid) \(termination)\nstdout: \(stdout)\nstderr: \(stderr)" }
    }

    /// Runs a program to completion, its output in files, under a deadline.
    enum CommandRunner {
        static func run(
            _ executable: String, _ arguments: [String], environment: [String: String], in directory: TemporaryDirectory,
            inheritAtFD3 inherited: Int32? = nil, timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation
        ) async throws -> CommandResult {
            let stem = directory.file("run-\(UUID().uuidString.prefix(8))")
            let child = try ChildProcess.spawn(executable, arguments, environment: environment,
                                               stdout: stem + ".out", stderr: stem + ".err", inheritAtFD3: inherited)
            func read(_ suffix: String) -> String { (try? String(contentsOfFile: stem + suffix, encoding: .utf8)) ?? "" }
            do {
                let termination = try await Polling.value(
                    timeout: timeout, "\(executable) \(arguments.joined(separator: " ")) to exit",
                    context: { "stdout: \(read(".out"))\nstderr: \(read(".err"))" }, sourceLocation: sourceLocation
                ) { child.terminated }
                return CommandResult(pid: child.pid, termination: termination, stdout: read(".out"), stderr: read(".err"))
            } catch {
                child.signal(SIGKILL)
                _ = Polling.blockingUntil(timeout: 5) { !child.isRunning }
                throw error
            }
        }
    }
}
