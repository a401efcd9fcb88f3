import Foundation
import Glibc
import Synchronization
import Testing

extension EndToEnd {
    /// A real `appd` with real children, in its own temporary directory, seen
    /// from outside: through signals, its log file, its status file, its pid
    /// file and /proc. (`appctl` is deliberately not used here.)
    ///
    /// Every process it starts carries `APPD_E2E_TAG=<unique>` in its
    /// environment, which its workers and their children inherit: teardown finds
    /// whatever is left by that tag and kills it by pid, so no test leaves a
    /// process behind, even when it fails half-way or the daemon leaks one.
    final class DaemonUnderTest: Sendable {
        let directory: TemporaryDirectory
        let tag: String
        let configFile: String
        let controlSocket: String
        let pidFile: String
        let statusFile: String
        let logFile: String
        /// appd's own stdout and stderr.
        let outputFile: String

        private struct State {
            var spec: DaemonSpec
            var process: ChildProcess?
            /// The master's pid: our child when started in the foreground, the
            /// pid file's when adopted after `--daemonize`.
            var pid: Int32?
            /// Every worker or descendant pid ever listed, for teardown.
            var seen: Set<Int32> = []
            var tornDown = false
        }

        private let state: Mutex<State>

        init(_ spec: DaemonSpec) throws {
            directory = try TemporaryDirectory()
            tag = UUID().uuidString
            configFile = directory.file("appd.json5")
            controlSocket = directory.file("ctl.sock")
            pidFile = directory.file("appd.pid")
            statusFile = directory.file("appd.status")
            logFile = directory.file("appd.log")
            outputFile = directory.file("appd.out")
            state = Mutex(State(spec: spec))
            try writeConfig(spec)
        }

        deinit { tearDown() }

        // MARK: - Config

        var spec: DaemonSpec { state.withLock { $0.spec } }

        /// Rewrites the config file (the daemon reads it again on SIGHUP/SIGUSR1).
        func writeConfig(_ spec: DaemonSpec) throws {
            state.withLock { $0.spec = spec }
            try writeConfigText(spec.render(controlSocket: controlSocket, pidFile: pidFile, statusFile: statusFile, logFile: logFile))
        }

        /// Replaces the config file with arbitrary text, e.g. a broken one.
        /// Written to a temporary name and renamed, so appd never reads half.
        func writeConfigText(_ text: String) throws {
            let temporary = configFile + ".new"
            try text.write(toFile: temporary, atomically: false, encoding: .utf8)
            guard rename(temporary, configFile) == 0 else { throw SyscallError.last("rename(\(configFile))") }
        }

        // MARK: - Starting

        /// The environment every appd (and so every child) gets: the test's own,
        /// without anything that would make appd think it runs under systemd,
        /// plus the tag.
        var environment: [String: String] {
            var environment = ProcessInfo.processInfo.environment
            for key in ["NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "APPD_DEMO_PORT"] {
                environment[key] = nil
            }
            environment["APPD_E2E_TAG"] = tag
            return environment
        }

        /// Starts `appd --config FILE [ARGUMENTS...]` in the foreground as our
        /// child and waits until it is up: the pid file holds its pid and the
        /// control socket exists.
        /// `stderr`: another path for appd's standard error (a FIFO nobody reads, say).
        /// `extraEnvironment`: set for this appd (and so its children) alone:
        /// NOTIFY_SOCKET to play systemd, a `PATH` with a venv first.
        func start(
            arguments: [String] = [], stderr: String? = nil, timeout: Double = 10, extraEnvironment: [String: String] = [:],
            sourceLocation: SourceLocation = #_sourceLocation
        ) async throws {
            let process = try ChildProcess.spawn(Binaries.appd, ["--config", configFile] + arguments,
                                                 environment: environment.merging(extraEnvironment) { _, extra in extra },
                                                 stdout: outputFile, stderr: stderr ?? outputFile)
            let pid = process.pid
            state.withLock {
                $0.process = process
                $0.pid = pid
            }
            try await waitUntil(timeout: timeout, "appd pid \(pid) to write its pid file and listen on its control socket",
                                sourceLocation: sourceLocation) {
                if let ended = process.terminated {
                    throw StartFailed(description: "appd \(ended) during start-up\n\(diagnostics)")
                }
                // The socket file exists from bind on, a moment before listen:
                // a test that connected then was refused (seen under UBSan).
                return pidFileContents == pid && FileManager.default.fileExists(atPath: controlSocket)
                    && ProcFS.unixSocketListens(at: controlSocket) != false
            }
        }

        /// Runs `appd --config FILE --daemonize` and waits for the launcher to
        /// return. When it returns 0 the daemon (now not our child) is adopted
        /// from the pid file, so it is observed and torn down like any other.
        /// `inheritAtFD3` hands the launcher one of the test's descriptors.
        func startDaemonized(
            inheritAtFD3 inherited: Int32? = nil, timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation
        ) async throws -> CommandResult {
            let result = try await CommandRunner.run(
                Binaries.appd, ["--config", configFile, "--daemonize"], environment: environment, in: directory,
                inheritAtFD3: inherited, timeout: timeout, sourceLocation: sourceLocation)
            if result.exited(0), let pid = pidFileContents {
                state.withLock { $0.pid = pid }
            }
            return result
        }

        /// Runs appd with other arguments to completion (`--check`, a second
        /// daemon...), with this daemon's tag so teardown catches it if it stays.
        func runAppd(_ arguments: [String], timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation) async throws -> CommandResult {
            try await CommandRunner.run(Binaries.appd, arguments, environment: environment, in: directory,
                                        timeout: timeout, sourceLocation: sourceLocation)
        }

        struct StartFailed: Error, CustomStringConvertible {
            var description: String
        }

        // MARK: - Observing

        /// The master's pid (0 before start).
        var pid: Int32 { state.withLock { $0.pid } ?? 0 }

        /// The daemon's log file, whole.
        var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

        var logLines: [LogLine] { LogLine.parse(log) }

        /// What appd wrote to its own stdout/stderr.
        var output: String { (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? "" }

        var pidFileContents: Int32? {
            (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }

        /// Whether the master process still runs.
        var isRunning: Bool {
            let (process, pid) = state.withLock { ($0.process, $0.pid) }
            if let process { return process.isRunning }
            guard let pid else { return false }
            return ProcFS.isAlive(pid) && ProcFS.environment(of: pid)["APPD_E2E_TAG"] == tag
        }

        /// The master's live direct children that are workers, with the group and
        /// worker id it gave them.
        func children() -> [WorkerProcess] {
            let pid = self.pid
            guard pid > 0 else { return [] }
            let workers = ProcFS.childPids(of: pid).compactMap { child -> WorkerProcess? in
                let environment = ProcFS.environment(of: child)
                guard ProcFS.isAlive(child), let group = environment["APP_GROUP"],
                      let id = environment["APP_WORKER_ID"].flatMap(Int.init) else { return nil }
                return WorkerProcess(pid: child, group: group, id: id)
            }
            remember(workers.map(\.pid))
            return workers.sorted { ($0.group, $0.id, $0.pid) < ($1.group, $1.id, $1.pid) }
        }

        /// Every live descendant of the master: workers and what they forked.
        func descendants() -> [Int32] {
            let pids = ProcFS.descendants(of: pid).filter(ProcFS.isAlive)
            remember(pids)
            return pids
        }

        /// Every live process started on behalf of this test other than the
        /// master itself: what must be gone once the master is.
        func leftovers() -> [Int32] {
            let master = pid
            return ProcFS.livePids(withEnvironment: "APPD_E2E_TAG", equalTo: tag).filter { $0 != master }
        }

        private func remember(_ pids: [Int32]) {
            state.withLock { $0.seen.formUnion(pids) }
        }

        /// Polls `condition` every ~10 ms until it holds; on timeout the test
        /// fails with `what`, the daemon's log and the children it has.
        func waitUntil(
            timeout: Double = 10, _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
            _ condition: () throws -> Bool
        ) async throws {
            try await Polling.until(timeout: timeout, what, context: { diagnostics }, sourceLocation: sourceLocation, condition)
        }

        /// Polls until `probe` returns a value, which it returns.
        func waitFor<T>(
            timeout: Double = 10, _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
            _ probe: () throws -> T?
        ) async throws -> T {
            try await Polling.value(timeout: timeout, what, context: { diagnostics }, sourceLocation: sourceLocation, probe)
        }

        /// What a failing test prints: the daemon's output, log and children.
        var diagnostics: String {
            "appd pid \(pid) running: \(isRunning); children: \(children())\n"
                + "--- appd output ---\n\(output)--- appd log ---\n\(log)"
        }

        // MARK: - Acting

        /// Sends a signal to the master (only while it runs, so a recycled pid
        /// is never hit).
        func signal(_ signal: Int32) {
            if let process = state.withLock({ $0.process }) {
                process.signal(signal)
            } else if isRunning {
                kill(pid, signal)
            }
        }

        /// SIGUSR2, then the status file once the master says it rewrote it.
        func statusSnapshot(sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
            let marker = "status written to \(statusFile)"
            let before = log.components(separatedBy: marker).count
            signal(SIGUSR2)
            try await waitUntil(timeout: 10, "the status file to be rewritten after SIGUSR2", sourceLocation: sourceLocation) {
                log.components(separatedBy: marker).count > before
            }
            return try String(contentsOfFile: statusFile, encoding: .utf8)
        }

        /// Waits for the master to exit; returns its exit status when it is our
        /// child, nil for an adopted daemon.
        @discardableResult
        func waitForExit(
            timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation
        ) async throws -> ChildProcess.Termination? {
            try await waitUntil(timeout: timeout, "appd pid \(pid) to exit", sourceLocation: sourceLocation) { !isRunning }
            return state.withLock { $0.process }?.terminated
        }

        // MARK: - Teardown

        /// Leaves no process behind: SIGTERM to the master and a wait; SIGKILL
        /// if it does not go; then SIGKILL, by pid, every process of this test
        /// still alive (every pid ever seen, and every one carrying the tag).
        /// Idempotent; blocking, so `deinit` can call it too.
        func tearDown() {
            let (alreadyDone, spec) = state.withLock { state -> (Bool, DaemonSpec) in
                defer { state.tornDown = true }
                return (state.tornDown, state.spec)
            }
            guard !alreadyDone else { return }
            if isRunning {
                signal(SIGTERM)
                let longestStop = ([spec.stopTimeout] + spec.groups.compactMap(\.stopTimeout)).max() ?? 2
                if !Polling.blockingUntil(timeout: longestStop + 5, { !isRunning }) {
                    signal(SIGKILL)
                    Polling.blockingUntil(timeout: 5) { !isRunning }
                }
            }
            let seen = state.withLock { $0.seen }
            var stragglers = Set(leftovers())
            for pid in seen where ProcFS.isAlive(pid) && ProcFS.environment(of: pid)["APPD_E2E_TAG"] == tag {
                stragglers.insert(pid)
            }
            for pid in stragglers { kill(pid, SIGKILL) }
            Polling.blockingUntil(timeout: 5) { stragglers.allSatisfy { !ProcFS.isAlive($0) } }
            // A master killed by SIGKILL leaves its (empty) cgroups behind.
            if let cgroups = CgroupProbe.root(inLog: log) { CgroupProbe.remove(cgroups) }
            directory.remove()
        }
    }

    /// Runs `body` with a started daemon and tears it down afterwards, whether
    /// the body returns or throws.
    static func withDaemon(
        _ spec: DaemonSpec, start: Bool = true, sourceLocation: SourceLocation = #_sourceLocation,
        _ body: (DaemonUnderTest) async throws -> Void
    ) async throws {
        let daemon = try DaemonUnderTest(spec)
        do {
            if start { try await daemon.start(sourceLocation: sourceLocation) }
            try await body(daemon)
            daemon.tearDown()
        } catch {
            daemon.tearDown()
            throw error
        }
    }
}
