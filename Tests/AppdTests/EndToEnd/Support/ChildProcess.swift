import Glibc
import Synchronization

extension EndToEnd {
    /// A program the test starts with posix_spawn and reaps itself, by pid.
    ///
    /// Not `Foundation.Process`: on Linux it learns that its child exited from
    /// EOF on a socket the child inherits, so it never notices the exit of
    /// `appd --daemonize`, whose daemon keeps that socket (see the daemonize
    /// tests). Here the child gets stdin from /dev/null, stdout and stderr to
    /// files (never pipes a daemon could hold), optionally one fd of the test's
    /// at fd 3, and no other descriptor of the test process.
    final class ChildProcess: Sendable {
        struct Termination: Sendable, Equatable, CustomStringConvertible {
            /// True for exit(2), false for death by a signal.
            var exited: Bool
            /// The exit code, or the signal number.
            var code: Int32

            var description: String { exited ? "exited \(code)" : "killed by signal \(code)" }
        }

        let pid: Int32
        private let termination = Mutex<Termination?>(nil)

        private init(pid: Int32) { self.pid = pid }

        static func spawn(
            _ executable: String, _ arguments: [String], environment: [String: String],
            stdout: String, stderr: String, inheritAtFD3 inherited: Int32? = nil
        ) throws -> ChildProcess {
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            var outputs: [Int32] = []
            defer { outputs.forEach { close($0) } }
            for path in [stdout, stderr] {
                let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
                guard fd >= 0 else { throw SyscallError.last("open(\(path))") }
                outputs.append(fd)
            }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_adddup2(&actions, outputs[0], 1)
            posix_spawn_file_actions_adddup2(&actions, outputs[1], 2)
            if let inherited { posix_spawn_file_actions_adddup2(&actions, inherited, 3) }
            guard closeFrom(&actions, inherited == nil ? 3 : 4) == 0 else { throw SyscallError.last("posix_spawn_file_actions_addclosefrom_np") }

            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var noSignals = sigset_t()
            sigemptyset(&noSignals)
            posix_spawnattr_setsigmask(&attributes, &noSignals)
            var defaults = sigset_t()
            sigemptyset(&defaults)
            for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD] { sigaddset(&defaults, signal) }
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

            let argv = ([executable] + arguments).map { strdup($0) } + [nil]
            let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer { (argv + envp).forEach { free($0) } }
            var pid: pid_t = 0
            let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
            guard result == 0 else { throw SyscallError(call: "posix_spawn(\(executable))", errno: result) }
            return ChildProcess(pid: pid)
        }

        /// glibc's posix_spawn_file_actions_addclosefrom_np, which Swift's Glibc
        /// module does not import (it is a GNU extension).
        private static func closeFrom(_ actions: inout posix_spawn_file_actions_t, _ from: Int32) -> Int32 {
            typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
                errno = ENOSYS
                return -1
            }
            return unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, from)
        }

        /// How it ended, once it has (reaping it on the first call after).
        var terminated: Termination? {
            termination.withLock { known in
                if known == nil {
                    var status: Int32 = 0
                    if waitpid(pid, &status, WNOHANG) == pid {
                        known = status & 0x7f == 0
                            ? Termination(exited: true, code: (status >> 8) & 0xff)
                            : Termination(exited: false, code: status & 0x7f)
                    }
                }
                return known
            }
        }

        var isRunning: Bool { terminated == nil }

        /// Sends a signal while it has not been reaped (its pid cannot have been
        /// reused until then).
        func signal(_ signal: Int32) {
            termination.withLock { known in
                if known == nil { kill(pid, signal) }
            }
        }
    }
}
