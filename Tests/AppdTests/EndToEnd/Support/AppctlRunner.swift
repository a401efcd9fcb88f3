import Foundation
import Glibc
import Testing

extension EndToEnd {
    /// A command the test started and did not wait for (`appctl logs
    /// --follow`, a reload left running): its output so far, its end, and a
    /// `stop()` that ends it by pid. Owners call `stop()` on every path
    /// (`defer`); it is idempotent and blocking, so it works in a defer.
    final class RunningCommand: Sendable {
        let child: ChildProcess
        let stdoutPath: String
        let stderrPath: String
        let description: String

        init(child: ChildProcess, stdoutPath: String, stderrPath: String, description: String) {
            self.child = child
            self.stdoutPath = stdoutPath
            self.stderrPath = stderrPath
            self.description = description
        }

        var pid: Int32 { child.pid }
        var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
        var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

        /// Waits for it to exit on its own.
        func wait(timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation) async throws -> CommandResult {
            let termination = try await Polling.value(
                timeout: timeout, "\(description) to exit", context: { "stdout: \(stdout)\nstderr: \(stderr)" },
                sourceLocation: sourceLocation) { child.terminated }
            return CommandResult(pid: child.pid, termination: termination, stdout: stdout, stderr: stderr)
        }

        /// Ends it (SIGTERM, then SIGKILL) and reaps it; returns how it ended.
        @discardableResult
        func stop() -> ChildProcess.Termination? {
            child.signal(SIGTERM)
            if !Polling.blockingUntil(timeout: 2, { !child.isRunning }) {
                child.signal(SIGKILL)
                Polling.blockingUntil(timeout: 5) { !child.isRunning }
            }
            return child.terminated
        }
    }
}

extension EndToEnd.DaemonUnderTest {
    /// Runs the real `appctl --socket <this daemon's socket> ARGS...` to
    /// completion, with this daemon's environment (and so its teardown tag).
    func appctl(
        _ arguments: String..., socket: String? = nil, timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> EndToEnd.CommandResult {
        try await appctl(arguments: ["--socket", socket ?? controlSocket] + arguments, timeout: timeout, sourceLocation: sourceLocation)
    }

    /// `appctl` with exactly these arguments (no `--socket` added), and
    /// `APPCTL_SOCKET` only when `extra` sets it (one inherited from the
    /// test's environment would take precedence over `--config`).
    func appctl(
        arguments: [String], environment extra: [String: String] = [:], timeout: Double = 10,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> EndToEnd.CommandResult {
        var environment = self.environment
        environment["APPCTL_SOCKET"] = nil
        return try await EndToEnd.CommandRunner.run(
            EndToEnd.Binaries.appctl, arguments, environment: environment.merging(extra) { $1 }, in: directory,
            timeout: timeout, sourceLocation: sourceLocation)
    }

    /// Starts `appctl --socket <socket> ARGS...` and returns at once.
    func startAppctl(_ arguments: String...) throws -> EndToEnd.RunningCommand {
        let stem = directory.file("appctl-\(UUID().uuidString.prefix(8))")
        let child = try EndToEnd.ChildProcess.spawn(
            EndToEnd.Binaries.appctl, ["--socket", controlSocket] + arguments, environment: environment,
            stdout: stem + ".out", stderr: stem + ".err")
        return EndToEnd.RunningCommand(child: child, stdoutPath: stem + ".out", stderrPath: stem + ".err",
                                       description: "appctl \(arguments.joined(separator: " "))")
    }

    /// A raw connection to this daemon's control socket.
    func controlClient(receiveBuffer: Int32? = nil) throws -> EndToEnd.ControlSocketClient {
        try EndToEnd.ControlSocketClient(path: controlSocket, receiveBuffer: receiveBuffer)
    }

    /// How many sockets the master has open: its listeners plus one per
    /// control client it still holds.
    var masterSocketCount: Int { EndToEnd.ProcFS.socketCount(of: pid) }

    /// Lines a worker printed (`group#id[pid] stdout: text` in the log).
    func outputLines(of worker: EndToEnd.WorkerProcess, stream: String = "stdout") -> [String] {
        let source = "\(worker.group)#\(worker.id)[\(worker.pid)]"
        return logLines.filter { $0.source == source && $0.level == stream }.map(\.message)
    }
}

extension EndToEnd.CommandResult {
    /// stdout as one JSON object (what `appctl --json` prints for most commands).
    func jsonObject(sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let text = stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty, !text.contains("\n") else {
            throw EndToEnd.NotOneDocument(text: stdout)
        }
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw EndToEnd.NotOneDocument(text: stdout)
        }
        return object
    }

    /// stdout's lines, without the empty last one.
    var stdoutLines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
}

extension EndToEnd {
    struct NotOneDocument: Error, CustomStringConvertible {
        var text: String
        var description: String { "expected one JSON object document on stdout, got:\n\(text)" }
    }

    /// A table printed for people, cut into cells at runs of 2+ spaces (the
    /// way `StatusFileText` reads the status file).
    static func tableRows(_ text: String) -> [[String]] {
        StatusFileText(text).rows
    }
}
