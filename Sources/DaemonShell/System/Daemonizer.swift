import Glibc

/// `appd --daemonize`: detach from the terminal, yet let the command that
/// started the daemon exit only once start-up has worked or failed, with an
/// exit status that says which (so scripts and init systems can trust it).
enum Daemonizer {
    /// Forks. The original process waits for the child's report and exits:
    /// 0 once the child calls `succeeded()`, 1 (pointing at the log) if the
    /// child exits first. The child starts a new session (no controlling
    /// terminal), takes stdin from /dev/null and appends stdout/stderr to
    /// `logFile`, and returns the report to send when it is up.
    ///
    /// Call before any thread exists: only the calling thread survives fork.
    static func detach(logFile: String) throws(SystemError) -> StartupReport {
        let log = try RuntimeDirectory.openForAppending(logFile)
        let null = try FileIO.nullDevice()
        let report = try Pipe.make()
        let pid = try checked("fork", fork())
        if pid > 0 {
            close(report.write)
            waitForReport(report.read, logFile: logFile)
        }
        close(report.read)
        try checked("setsid", setsid())
        try checked("dup2(/dev/null, 0)", dup2(null, 0))
        try checked("dup2(\(logFile), 1)", dup2(log, 1))
        try checked("dup2(\(logFile), 2)", dup2(log, 2))
        close(log)
        // daemon(7): keep nothing the launcher left open. A caller waiting
        // for EOF on a pipe it gave us (Foundation.Process does) would
        // otherwise wait for as long as the daemon lives.
        closeInheritedDescriptors(keeping: [report.write, null])
        return StartupReport(fd: report.write)
    }

    private static func closeInheritedDescriptors(keeping kept: Set<Int32>) {
        guard let directory = opendir("/proc/self/fd") else { return }
        var open: [Int32] = []
        while let entry = readdir(directory) {
            let name = entry.entryName
            if let fd = Int32(name), fd > 2 { open.append(fd) }
        }
        closedir(directory)  // Its own fd was listed too, and is closed now.
        for fd in open where !kept.contains(fd) { FileIO.close(fd) }
    }

    private static func waitForReport(_ fd: Int32, logFile: String) -> Never {
        var pollfd = Glibc.pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while retryingInterrupts({ poll(&pollfd, 1, -1) }) < 0 {}
        if case .bytes(let bytes) = FileIO.read(fd, max: 1), bytes == Array("R".utf8) { exit(0) }
        _ = try? FileIO.write(STDERR_FILENO, Array("appd: start-up failed, see \(logFile)\n".utf8))
        exit(1)
    }
}

/// The daemonized child's promise to its waiting parent. The pipe's write
/// end is close-on-exec, so workers never hold it: if the daemon dies before
/// `succeeded()`, the parent sees end-of-file and reports failure.
struct StartupReport {
    fileprivate let fd: Int32

    /// Tells the waiting parent that start-up worked (call once the control
    /// socket accepts); it then exits 0.
    func succeeded() {
        _ = try? FileIO.write(fd, Array("R".utf8))
        FileIO.close(fd)
    }
}
