import CSystem
import Foundation
import Glibc
import Testing
@testable import DaemonShell
@testable import SupervisorCore
import Shared

/// The syscall layer against the real kernel: real children, sockets, fds.
/// Serialized because some tests look at this process's children (zombies)
/// and signal mask; other suites may still run alongside, so no test reaps
/// with `waitpid(-1)` or blocks a signal process-wide.
@Suite(.serialized) struct SystemTests {
    // MARK: Spawner

    @Test func spawnedChildSeesItsEnvironmentAndCwdAndNoLeakedFDs() throws {
        try withTemporaryDirectory { directory in
            let run = try runToCompletion(
                ["/bin/sh", "-c", #"echo "$GREETING ${HOME-unset}"; pwd; ls /proc/self/fd"#],
                environment: ["GREETING": "hello world"], workingDirectory: directory
            )
            // fd 3 is the directory ls opens to list /proc/self/fd.
            #expect(run.output == "hello world unset\n\(directory)\n0\n1\n2\n3\n")
            #expect(ExitStatus(waitStatus: run.status) == .exited(code: 0))
        }
    }

    @Test func listenSocketsArriveAtFD3WithTheChildsOwnPid() throws {
        let socket = try ListeningSocket.bind(.tcp(host: "127.0.0.1", port: 0))
        defer { FileIO.close(socket) }
        let run = try runToCompletion(
            ["/bin/sh", "-c", #"echo $LISTEN_FDS $LISTEN_FDNAMES $LISTEN_PID $$; readlink /proc/$$/fd/3; ls /proc/self/fd"#],
            environment: ["LISTEN_PID": "999", "LISTEN_FDS": "7"], listenFDs: [socket], listenNames: ["web"]
        )
        let lines = run.output.split(separator: "\n").map(String.init)
        try #require(lines.count == 7, "\(run.output)")
        #expect(lines[0] == "1 web \(run.pid) \(run.pid)")
        #expect(lines[1].hasPrefix("socket:["))
        #expect(Array(lines[2...]) == ["0", "1", "2", "3", "4"])
    }

    @Test func childStartsWithEmptyMaskAndDefaultDispositions() throws {
        try SignalMask.ignore([UnixSignal(number: SIGPIPE)])
        let pid = try withSignalsBlockedOnThisThread([.terminate, .user1]) {
            try Spawner.spawn(request(["/bin/sleep", "30"], stdout: FileIO.nullDevice()))
        }
        #expect(ProcessControl.send(.terminate, to: pid))
        let status = try #require(waitForExit(pid))
        #expect(ExitStatus(waitStatus: status) == .killed(signal: .terminate))

        let run = try withSignalsBlockedOnThisThread([.terminate]) {
            try runToCompletion(["/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"])
        }
        #expect(run.output == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n")
    }

    @Test func failedExecThrowsItsErrnoAndLeavesNoZombie() throws {
        let error = try #require(throws: SystemError.self) {
            try Spawner.spawn(request(["/nonexistent/program"], stdout: FileIO.nullDevice()))
        }
        #expect(error.errno == ENOENT)
        #expect(error.description == "execve(/nonexistent/program): No such file or directory")
        #expect(zombieForksOfThisProcess() == 0)

        let chdirError = try #require(throws: SystemError.self) {
            try Spawner.spawn(request(["/bin/true"], workingDirectory: "/nonexistent", stdout: FileIO.nullDevice()))
        }
        #expect(chdirError.call == "chdir(/nonexistent)")
        #expect(zombieForksOfThisProcess() == 0)
    }

    @Test func reapOneDecodesTheExitStatus() throws {
        let pid = try Spawner.spawn(request(["/bin/sh", "-c", "exit 3"], stdout: FileIO.nullDevice()))
        let status = try #require(waitForExit(pid))
        #expect(ExitStatus(waitStatus: status).description == "exited 3")
        #expect(ProcessControl.reapOne(pid) == nil)
        #expect(!ProcessControl.send(.terminate, to: pid))
        #expect(!ProcessControl.send(.terminate, to: 0))
    }

    @Test func childGetsTheRequestedOpenFileSoftLimit() throws {
        var limit = rlimit()
        try #require(getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0)
        try #require(limit.rlim_cur != 200 && limit.rlim_max >= 200)
        let limited = try runToCompletion(["/bin/sh", "-c", "ulimit -Sn; ulimit -Hn"], openFileLimit: 200)
        let hard = limit.rlim_max == rlim_t.max ? "unlimited" : String(limit.rlim_max)
        #expect(limited.output == "200\n\(hard)\n", "the soft limit is set, the hard one kept")
        let unchanged = try runToCompletion(["/bin/sh", "-c", "ulimit -Sn"], openFileLimit: 0)
        #expect(unchanged.output == "\(limit.rlim_cur)\n", "0 leaves the master's limit")

        if limit.rlim_max != rlim_t.max {
            let error = try #require(throws: SystemError.self) {
                try Spawner.spawn(request(["/bin/true"], openFileLimit: UInt64(limit.rlim_max) + 1, stdout: FileIO.nullDevice()))
            }
            #expect(error.call == "setrlimit(RLIMIT_NOFILE, soft \(UInt64(limit.rlim_max) + 1))" && error.errno == EINVAL)
            #expect(zombieForksOfThisProcess() == 0)
        }
    }

    @Test(.enabled(if: geteuid() == 0, "becoming another user needs root"))
    func childTakesItsLimitsNiceAndUmaskThenItsGroupsAndUserLast() throws {
        let run = try runToCompletion(
            ["/bin/sh", "-c", "id -u; id -g; id -G; umask; ulimit -Sn; ulimit -Hn; ulimit -c; cut -d' ' -f19 /proc/self/stat"]
        ) { request in
            request.openFileLimit = 50
            request.resourceLimits = [.nofile: ResourceLimit(soft: 100, hard: 200), .core: ResourceLimit(soft: 0, hard: 0)]
            request.nice = 4
            request.umask = 0o027
            request.identity = WorkerIdentity(user: "nobody", uid: 65534, gid: 65534, groups: [65534])
        }
        #expect(run.output == "65534\n65534\n65534\n0027\n100\n200\n0\n4\n", "a configured nofile wins over the one appd gives back")
        #expect(ExitStatus(waitStatus: run.status) == .exited(code: 0))
    }

    @Test func aStepThatFailsInTheChildSaysWhatItWasGiven() throws {
        // Beyond fs.nr_open: setrlimit refuses it to root too.
        var tooMany = request(["/bin/true"], stdout: try FileIO.nullDevice())
        tooMany.resourceLimits = [.nofile: ResourceLimit(soft: 1 << 40, hard: 1 << 40)]
        let limitError = try #require(throws: SystemError.self) { try Spawner.spawn(tooMany) }
        #expect(limitError.description == "setrlimit(RLIMIT_NOFILE, 1099511627776): Operation not permitted")
        #expect(zombieForksOfThisProcess() == 0)

        try withTemporaryDirectory { directory in
            var elsewhere = request(["/bin/true"], workingDirectory: directory, stdout: try FileIO.nullDevice())
            if geteuid() == 0 {
                // The directory is root's, mode 0700: chdir happens as the worker, and fails.
                #expect(chmod(directory, 0o700) == 0)
                elsewhere.identity = WorkerIdentity(user: "nobody", uid: 65534, gid: 65534, groups: [65534])
                let error = try #require(throws: SystemError.self) { try Spawner.spawn(elsewhere) }
                #expect(error.description == "chdir(\(directory)): Permission denied")
            } else {
                // Without root even one's own groups cannot be set.
                elsewhere.identity = WorkerIdentity(user: "me", uid: geteuid(), gid: getegid(), groups: [getegid()])
                let error = try #require(throws: SystemError.self) { try Spawner.spawn(elsewhere) }
                #expect(error.description == "setgroups(\(getegid())): Operation not permitted")
            }
            #expect(zombieForksOfThisProcess() == 0)
        }
    }

    @Test func resolveExecutableSearchesPath() {
        #expect(Spawner.resolveExecutable("sh", searchPath: "/nonexistent:/bin") == "/bin/sh")
        #expect(Spawner.resolveExecutable("/bin/sh", searchPath: nil) == "/bin/sh")
        #expect(Spawner.resolveExecutable("tmp", searchPath: "/") == nil)
        #expect(Spawner.resolveExecutable("no-such-program-here", searchPath: nil) == nil)
    }

    // MARK: Sockets

    @Test func tcpSocketBindsAFreePortAndRefusesASecondBind() throws {
        let fd = try ListeningSocket.bind(.tcp(host: "127.0.0.1", port: 0))
        defer { FileIO.close(fd) }
        let port = try #require(ListeningSocket.localPort(fd))
        #expect(port > 0)
        #expect(isCloseOnExec(fd))
        #expect(connects(AF_INET, "127.0.0.1", port))
        let error = try #require(throws: SystemError.self) {
            try ListeningSocket.bind(.tcp(host: "127.0.0.1", port: port))
        }
        #expect(error.description == "bind(tcp://127.0.0.1:\(port)): Address already in use")
    }

    @Test(.enabled(if: ipv6LoopbackWorks())) func tcpSocketBindsIPv6Loopback() throws {
        let fd = try ListeningSocket.bind(.tcp(host: "::1", port: 0))
        defer { FileIO.close(fd) }
        let port = try #require(ListeningSocket.localPort(fd))
        #expect(connects(AF_INET6, "::1", port))
    }

    @Test func unixListenSocketReplacesAStaleFileButNotAnotherFile() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/web.sock"
            FileIO.close(try ListeningSocket.bind(.unix(path: path)))  // stale: closed, not unlinked
            let fd = try ListeningSocket.bind(.unix(path: path))
            defer { FileIO.close(fd) }
            #expect(try #require(throws: SystemError.self) { try ListeningSocket.bind(.unix(path: path)) }.errno == EADDRINUSE)

            let plain = directory + "/plain"
            #expect(FileManager.default.createFile(atPath: plain, contents: Data()))
            #expect(try #require(throws: SystemError.self) { try ListeningSocket.bind(.unix(path: plain)) }.errno == EEXIST)
            #expect(FileManager.default.fileExists(atPath: plain))
        }
    }

    @Test func controlListenerIsPrivateExclusiveAndKnowsItsPeer() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/appd.sock"
            FileIO.close(try UnixControlListener(path: path).fd)  // a crashed daemon's stale socket
            let listener = try UnixControlListener(path: path)
            defer { listener.remove() }

            var info = stat()
            #expect(lstat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
            #expect(isCloseOnExec(listener.fd))

            #expect(try listener.accept() == nil)
            let error = try #require(throws: SystemError.self) { try UnixControlListener(path: path) }
            #expect(error.errno == EADDRINUSE)
            #expect(error.description.contains("another daemon is listening there"))
            #expect(lstat(path, &info) == 0, "the live daemon's socket must stay")
            // The liveness probe was a real connection: the daemon sees it come and go.
            let probe = try #require(try eventually { try listener.accept() })
            #expect(FileIO.read(probe, max: 1) == .endOfFile)
            FileIO.close(probe)

            let client = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            defer { FileIO.close(client) }
            let connected = try UnixSocketAddress(path).withSockaddr { connect(client, $0, $1) }
            #expect(connected == 0)
            let accepted = try #require(try eventually { try listener.accept() })
            defer { FileIO.close(accepted) }
            #expect(isCloseOnExec(accepted) && fcntl(accepted, F_GETFL) & O_NONBLOCK != 0)
            let peer = try #require(UnixControlListener.peerCredentials(accepted))
            #expect(peer.pid == getpid() && peer.uid == getuid() && peer.gid == getgid())
        }
    }

    @Test func notifyChannelKnowsTheSendingChild() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/notify.sock"
            let notify = try NotifyChannel(path: path)
            defer { notify.remove() }
            #expect(try notify.receive() == nil)

            let python = try #require(Spawner.resolveExecutable("python3", searchPath: ProcessInfo.processInfo.environment["PATH"]))
            let script = "import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b'READY=1', sys.argv[1])"
            let run = try runToCompletion([python, "-c", script, path])
            #expect(ExitStatus(waitStatus: run.status) == .exited(code: 0))
            let datagram = try #require(try eventually { try notify.receive() })
            #expect(datagram == NotifyChannel.Datagram(pid: run.pid, uid: getuid(), payload: Array("READY=1".utf8), truncated: false))
        }
    }

    @Test func systemdNotifierReachesPathAndAbstractSockets() throws {
        let abstract = try NotifyChannel(path: "@appd-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { abstract.remove() }
        try SystemdNotifier.notify("READY=1", socketPath: abstract.path)
        let ready = try #require(try eventually { try abstract.receive() })
        #expect(ready.pid == getpid() && String(decoding: ready.payload, as: UTF8.self) == "READY=1")

        try SystemdNotifier.notify(String(repeating: "x", count: 5000), socketPath: abstract.path)
        let long = try #require(try eventually { try abstract.receive() })
        #expect(long.truncated && long.payload.count == NotifyChannel.maximumDatagram)

        try SystemdNotifier.notify("READY=1", socketPath: nil)  // not under systemd: nothing happens
    }

    // MARK: Pid file

    @Test func pidFileLockAdmitsOneHolder() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/run/deeper/appd.pid"
            let lock = try PidFileLock(path: path)
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "\(getpid())\n")
            var info = stat()
            #expect(stat(directory + "/run", &info) == 0 && info.st_mode & 0o777 == 0o700)

            #expect(throws: PidFileLock.Failure.heldBy(pid: getpid(), path: path)) { try PidFileLock(path: path) }
            let flock = try runToCompletion(["/usr/bin/flock", "-n", path, "true"])
            #expect(ExitStatus(waitStatus: flock.status) == .exited(code: 1), "flock(1) must be refused")
            lock.remove()
            #expect(!FileManager.default.fileExists(atPath: path))

            // Now another process holds it.
            let python = try #require(Spawner.resolveExecutable("python3", searchPath: ProcessInfo.processInfo.environment["PATH"]))
            let script = """
                import fcntl,os,sys,time
                f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX); f.write('%d\\n' % os.getpid()); f.flush()
                print('locked', flush=True); time.sleep(30)
                """
            let output = try Pipe.make()
            let holder = try Spawner.spawn(request([python, "-c", script, path], stdout: output.write))
            FileIO.close(output.write)
            defer {
                ProcessControl.send(.kill, to: holder)
                _ = waitForExit(holder)
                FileIO.close(output.read)
            }
            let said = try #require(eventually { () -> [UInt8]? in
                if case .bytes(let bytes) = FileIO.read(output.read, max: 64) { return bytes }
                return nil
            })
            #expect(String(decoding: said, as: UTF8.self) == "locked\n")
            let failure = try #require(throws: PidFileLock.Failure.self) { try PidFileLock(path: path) }
            #expect(failure == .heldBy(pid: holder, path: path))
            #expect(failure.description == "another appd (pid \(holder)) holds \(path)")
        }
    }

    @Test func pidFileLockRefusesAFileUnlinkedOrReplacedBeforeItsLock() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/appd.pid"
            // A stopping daemon unlinks the file between a starting one's open and flock.
            let unlinked = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            defer { FileIO.close(unlinked) }
            try #require(unlinked >= 0 && unlink(path) == 0)
            let runtime = try RuntimeDirectory.open(directory)
            defer { runtime.close() }
            #expect(try !PidFileLock.lock(unlinked, name: "appd.pid", in: runtime, path: path))

            // ... and another starting daemon has created a fresh one meanwhile.
            let replaced = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            defer { FileIO.close(replaced) }
            try #require(replaced >= 0)
            #expect(FileManager.default.createFile(atPath: path + ".new", contents: Data()))
            try #require(rename(path + ".new", path) == 0)
            #expect(try !PidFileLock.lock(replaced, name: "appd.pid", in: runtime, path: path))

            // Neither stale lock stands in the way of the file at the path.
            let lock = try PidFileLock(path: path)
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "\(getpid())\n")
            lock.remove()
        }
    }

    // MARK: Orphan guard

    @Test(.timeLimit(.minutes(1))) func orphanGuardHoldsOnlyItsPipeAndNeverBlocksTheMaster() throws {
        let inherited = try Pipe.make()  // like the master's log or --daemonize report pipe
        defer {
            FileIO.close(inherited.read)
            FileIO.close(inherited.write)
        }
        let orphanGuard = try OrphanGuard.start()
        defer {
            kill(orphanGuard.pid, SIGCONT)
            FileIO.close(orphanGuard.fd)
            let status = waitForExit(orphanGuard.pid)
            #expect(status.map { ExitStatus(waitStatus: $0) } == .exited(code: 0), "EOF ends the guard")
        }
        #expect(fcntl(orphanGuard.fd, F_GETFL) & O_NONBLOCK != 0)

        var pipeInfo = stat()
        try #require(fstat(orphanGuard.fd, &pipeInfo) == 0)
        let held = eventually { () -> [String]? in
            let targets = openFileTargets(of: orphanGuard.pid)
            return targets.count == 4 ? targets : nil
        }
        #expect(held == ["/dev/null", "/dev/null", "/dev/null", "pipe:[\(pipeInfo.st_ino)]"], "\(openFileTargets(of: orphanGuard.pid))")

        // Stopped, it reads nothing: once its pipe is full, notes are dropped at once.
        try #require(kill(orphanGuard.pid, SIGSTOP) == 0)
        try #require(eventually { processState(orphanGuard.pid) == "T" ? true : nil } == true)
        for _ in 0..<(65536 / 4) { orphanGuard.workerExited(Int32.max) }  // a pid that exists nowhere
        errno = 0
        #expect(cs_orphan_guard_note(orphanGuard.fd, -Int32.max) == -1 && errno == EAGAIN)
    }

    /// What a replacement guard is given as it is forked: it takes those
    /// groups down at the master's end with no note ever written to its
    /// pipe (a master SIGKILLed right after the fork writes none).
    @Test(.timeLimit(.minutes(1))) func orphanGuardStartedWithGroupsKillsThemWithoutANote() throws {
        let worker = try Spawner.spawn(request(["/bin/sleep", "30"], stdout: FileIO.nullDevice()))  // leads its own group
        let orphanGuard = try OrphanGuard.start(guarding: [worker])
        FileIO.close(orphanGuard.fd)  // as the master's end does
        expectGuardEndsAndKills(orphanGuard, worker, "the guard SIGKILLed the group it was given")
    }

    /// A worker lists its own process group with the guard between fork and
    /// exec: a master killed right after the fork, before any note of its
    /// own, still takes the group down. (One that cannot exec, spawned
    /// first, fails as before.)
    @Test(.timeLimit(.minutes(1))) func spawnedChildListsItsOwnGroupWithTheOrphanGuard() throws {
        let orphanGuard = try OrphanGuard.start()
        var failing = request(["/nonexistent/program"], stdout: try FileIO.nullDevice())
        failing.orphanGuardFD = orphanGuard.fd
        #expect(throws: SystemError.self) { try Spawner.spawn(failing) }
        var sleeper = request(["/bin/sleep", "30"], stdout: try FileIO.nullDevice())
        sleeper.orphanGuardFD = orphanGuard.fd
        let worker = try Spawner.spawn(sleeper)
        FileIO.close(orphanGuard.fd)  // as the master's end does: no note from it
        expectGuardEndsAndKills(orphanGuard, worker, "the guard SIGKILLed the group the child listed")
    }

    /// The guard, its pipe closed by the test as the master's end would be,
    /// exits 0 and SIGKILLs `worker`'s group; a worker it missed is killed
    /// here so that the test leaves nothing behind.
    private func expectGuardEndsAndKills(_ orphanGuard: OrphanGuard, _ worker: pid_t, _ comment: Comment,
                                         sourceLocation: SourceLocation = #_sourceLocation) {
        let guardStatus = waitForExit(orphanGuard.pid)
        #expect(guardStatus.map { ExitStatus(waitStatus: $0) } == .exited(code: 0), "EOF ends the guard", sourceLocation: sourceLocation)
        let status = waitForExit(worker, seconds: 5)
        if status == nil {
            kill(worker, SIGKILL)
            _ = waitForExit(worker)
        }
        #expect(status.map { ExitStatus(waitStatus: $0) } == .killed(signal: .kill), comment, sourceLocation: sourceLocation)
    }

    // MARK: Files

    @Test func replaceFileWritesEverythingAtOnceAndWriteAllWritesEverything() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/status"
            try "an older and longer snapshot".write(toFile: path, atomically: false, encoding: .utf8)
            let runtime = try RuntimeDirectory.open(directory)
            defer { runtime.close() }
            let bytes = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
            try runtime.replaceFile("status", with: bytes, mode: 0o600)
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(bytes))
            #expect(!FileManager.default.fileExists(atPath: path + ".tmp"), "the temporary file was renamed")

            try runtime.replaceFile("new", with: [], mode: 0o600)
            var info = stat()
            #expect(stat(directory + "/new", &info) == 0 && info.st_mode & 0o777 == 0o600 && info.st_size == 0)
        }
    }

    @Test func runtimeDirectoryMakesOnlyWhatIsMissing() throws {
        try withTemporaryDirectory { directory in
            try RuntimeDirectory.open(parentOf: directory + "/run/logs/appd.log").directory.close()
            var info = stat()
            #expect(stat(directory + "/run/logs", &info) == 0 && info.st_mode & 0o777 == 0o700)
            #expect(stat(directory + "/run/logs/appd.log", &info) != 0, "the file itself is not made")
            try #require(chmod(directory + "/run", 0o750) == 0)
            try RuntimeDirectory.open(parentOf: directory + "/run/other.log").directory.close()
            #expect(stat(directory + "/run", &info) == 0 && info.st_mode & 0o777 == 0o750, "an existing directory is left as it is")
        }
    }

    // MARK: Event loop parts

    @Test func deadlineTimerFiresThroughEventPoll() throws {
        let poll = try EventPoll()
        let timer = try DeadlineTimer()
        defer {
            FileIO.close(timer.fd)
            FileIO.close(poll.fd)
        }
        try poll.add(fd: timer.fd, events: .readable, token: 42)

        let target = MonotonicInstant.now().adding(seconds: 0.02)
        try timer.arm(at: target)
        let events = try waitForEvents(poll, deadlineSeconds: 2)
        #expect(events.map(\.token) == [42] && events[0].readable)
        #expect(MonotonicInstant.now() >= target)
        #expect(timer.acknowledge())
        #expect(!timer.acknowledge())

        try timer.arm(at: MonotonicInstant(nanoseconds: 0))  // in the past: at once
        #expect(try waitForEvents(poll, deadlineSeconds: 2).map(\.token) == [42])
        timer.acknowledge()

        try timer.arm(at: MonotonicInstant.now().adding(seconds: 0.01))
        try timer.arm(at: nil)
        #expect(try poll.wait(timeoutMilliseconds: 60).isEmpty, "a disarmed timer never fires")
    }

    @Test func signalChannelDeliversABlockedSignalOnce() throws {
        // Blocked and raised on this thread only: other threads of the test
        // process keep SIGUSR2's default action, which would kill it.
        try withSignalsBlockedOnThisThread([.user2]) {
            let channel = try SignalChannel(signals: [.user2])
            defer { FileIO.close(channel.fd) }
            #expect(channel.drain().isEmpty)
            pthread_kill(pthread_self(), SIGUSR2)
            pthread_kill(pthread_self(), SIGUSR2)
            #expect(channel.drain() == [.user2], "standard signals coalesce")
            #expect(channel.drain().isEmpty)
        }
    }

    @Test func pipeEndsAreCloseOnExecAndReadEndNonBlocking() throws {
        let pipe = try Pipe.make()
        defer { FileIO.close(pipe.read) }
        #expect(isCloseOnExec(pipe.read) && isCloseOnExec(pipe.write))
        #expect(fcntl(pipe.write, F_GETFL) & O_NONBLOCK == 0)
        #expect(FileIO.read(pipe.read, max: 16) == .wouldBlock)
        #expect(try FileIO.write(pipe.write, Array("abc".utf8)) == 3)
        #expect(FileIO.read(pipe.read, max: 16) == .bytes(Array("abc".utf8)))
        FileIO.close(pipe.write)
        #expect(FileIO.read(pipe.read, max: 16) == .endOfFile)
    }
}

// MARK: - Helpers

private func request(
    _ arguments: [String], environment: [String: String] = [:], workingDirectory: String = "/",
    listenFDs: [Int32] = [], listenNames: [String] = [], openFileLimit: UInt64 = 0, stdout: Int32
) -> SpawnRequest {
    SpawnRequest(
        executable: arguments[0], arguments: arguments, environment: environment,
        workingDirectory: workingDirectory, listenFDs: listenFDs, listenNames: listenNames,
        stdout: stdout, stderr: stdout, openFileLimit: openFileLimit
    )
}

/// Spawns, collects stdout+stderr until EOF, and reaps; everything under a deadline.
/// `configure` sets what `request` has no parameter for.
private func runToCompletion(
    _ arguments: [String], environment: [String: String] = [:], workingDirectory: String = "/",
    listenFDs: [Int32] = [], listenNames: [String] = [], openFileLimit: UInt64 = 0,
    configure: (inout SpawnRequest) -> Void = { _ in }
) throws -> (pid: Int32, status: Int32, output: String) {
    let pipe = try Pipe.make()
    defer { FileIO.close(pipe.read) }
    let pid: Int32
    do {
        defer { FileIO.close(pipe.write) }
        var spawn = request(
            arguments, environment: environment, workingDirectory: workingDirectory,
            listenFDs: listenFDs, listenNames: listenNames, openFileLimit: openFileLimit, stdout: pipe.write
        )
        configure(&spawn)
        pid = try Spawner.spawn(spawn)
    }
    var output: [UInt8] = []
    let deadline = MonotonicInstant.now().adding(seconds: 10)
    reading: while MonotonicInstant.now() < deadline {
        switch FileIO.read(pipe.read, max: 4096) {
        case .bytes(let bytes): output += bytes
        case .endOfFile: break reading
        case .wouldBlock: usleep(1000)
        case .failed(let error): throw error
        }
    }
    guard let status = waitForExit(pid) else {
        ProcessControl.send(.kill, to: pid)
        _ = waitForExit(pid)
        throw SystemError(call: "waiting for \(arguments)", errno: ETIMEDOUT)
    }
    return (pid, status, String(decoding: output, as: UTF8.self))
}

/// Reaps `pid` (never another test's child); nil if it did not exit in time.
private func waitForExit(_ pid: Int32, seconds: Double = 10) -> Int32? {
    eventually(seconds: seconds) { ProcessControl.reapOne(pid)?.status }
}

/// Polls `body` until it returns a value or the deadline passes.
func eventually<Value>(seconds: Double = 5, _ body: () throws -> Value?) rethrows -> Value? {
    let deadline = MonotonicInstant.now().adding(seconds: seconds)
    repeat {
        if let value = try body() { return value }
        usleep(1000)
    } while MonotonicInstant.now() < deadline
    return nil
}

private func waitForEvents(_ poll: EventPoll, deadlineSeconds: Double) throws -> [EventPoll.Event] {
    let deadline = MonotonicInstant.now().adding(seconds: deadlineSeconds)
    while MonotonicInstant.now() < deadline {
        let events = try poll.wait(timeoutMilliseconds: 100)
        if !events.isEmpty { return events }
    }
    return []
}

/// Runs `body` with `signals` blocked on the calling thread, then restores its mask.
private func withSignalsBlockedOnThisThread<Result>(_ signals: [UnixSignal], _ body: () throws -> Result) throws -> Result {
    var previous = sigset_t()
    pthread_sigmask(SIG_SETMASK, nil, &previous)
    defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
    try SignalMask.block(signals)
    return try body()
}

/// Zombie children that are forks of this test process (a failed exec keeps
/// our command name), found through /proc without reaping anyone's child.
private func zombieForksOfThisProcess() -> Int {
    let ownName = (try? String(contentsOfFile: "/proc/self/comm", encoding: .utf8))?.trimmingCharacters(in: .newlines)
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.filter { entry in
        guard Int32(entry) != nil, let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
              let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return false }
        let name = String(stat[stat.index(after: open)..<close])
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        return name == ownName && fields.count > 1 && fields[0] == "Z" && Int32(fields[1]) == getpid()
    }.count
}

/// What each open fd of `pid` points at, in fd order.
private func openFileTargets(of pid: Int32) -> [String] {
    let directory = "/proc/\(pid)/fd"
    let fds = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).compactMap { Int32($0) }.sorted()
    return fds.map { (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\($0)")) ?? "?" }
}

/// The state letter of /proc/PID/stat ("T" when stopped).
private func processState(_ pid: Int32) -> String? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    return stat[stat.index(close, offsetBy: 2)...].split(separator: " ").first.map(String.init)
}

private func isCloseOnExec(_ fd: Int32) -> Bool {
    fcntl(fd, F_GETFD) & FD_CLOEXEC != 0
}

private func connects(_ family: Int32, _ host: String, _ port: UInt16) -> Bool {
    let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
    defer { FileIO.close(fd) }
    if family == AF_INET6 {
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = port.bigEndian
        inet_pton(AF_INET6, host, &address.sin6_addr)
        return withUnsafePointer(to: address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        } == 0
    }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    inet_pton(AF_INET, host, &address.sin_addr)
    return withUnsafePointer(to: address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

private func ipv6LoopbackWorks() -> Bool {
    guard let fd = try? ListeningSocket.bind(.tcp(host: "::1", port: 0)) else { return false }
    FileIO.close(fd)
    return true
}

private func withTemporaryDirectory(_ body: (String) throws -> Void) throws {
    var template = Array("/tmp/appd-system-XXXXXX".utf8CString)
    guard let created = mkdtemp(&template) else { throw SystemError.last("mkdtemp") }
    let directory = String(cString: created)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try body(directory)
}
