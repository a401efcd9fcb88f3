import Glibc

/// One daemon per pid file: the file is held with an exclusive `flock` for
/// the life of the process.
///
/// The lock, not the file's existence, is the truth: a pid file left by a
/// crashed daemon is simply locked again, and two daemons starting at the
/// same instant cannot both win (which a "does the socket answer?" check
/// alone could not promise). The kernel drops the lock when the process dies.
struct PidFileLock {
    enum Failure: Error, CustomStringConvertible, Equatable {
        /// Another process holds the lock; `pid` is what it wrote, if readable yet.
        case heldBy(pid: Int32?, path: String)
        case system(SystemError)

        var description: String {
            switch self {
            case .heldBy(let pid?, let path): "another appd (pid \(pid)) holds \(path)"
            case .heldBy(nil, let path): "another appd holds \(path)"
            case .system(let error): error.description
            }
        }
    }

    let path: String
    private let fd: Int32

    /// Locks `path` (creating it, and its directory with mode 0700) and
    /// writes our pid into it. The fd stays open, and the lock held, until
    /// the process exits.
    init(path: String) throws(Failure) {
        self.path = path
        do throws(SystemError) {
            try FileIO.createParentDirectories(of: path, mode: 0o700)
        } catch {
            throw .system(error)
        }
        fd = try Self.lockCurrentFile(path)
        let contents = Array("\(getpid())\n".utf8)
        let written = contents.withUnsafeBytes { ftruncate(fd, 0) == 0 ? pwrite(fd, $0.baseAddress, $0.count, 0) : -1 }
        if written != contents.count {
            let error = SystemError.last("write(\(path))")
            close(fd)
            throw .system(error)
        }
    }

    /// Opens and locks the file at `path`, again while the one locked turns
    /// out to be gone from there: a daemon stopping unlinks its file between
    /// our open and our flock, and a lock on that deleted inode would let a
    /// third daemon create and lock a fresh file too. Bounded, in case
    /// something keeps replacing the file.
    private static func lockCurrentFile(_ path: String) throws(Failure) -> Int32 {
        for _ in 0..<10 {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            if fd < 0 { throw .system(.last("open(\(path))")) }
            do throws(Failure) {
                if try lock(fd, openedFrom: path) { return fd }
                close(fd)
            } catch {
                close(fd)
                throw error
            }
        }
        throw .system(SystemError(call: "flock(\(path))", errno: EAGAIN, reason: "the file kept being replaced"))
    }

    /// Locks `fd`, opened from `path`; false when the file it locked is no
    /// longer the one at `path` (unlinked or replaced since the open). Never
    /// closes `fd`: the caller keeps it on true and closes it otherwise.
    static func lock(_ fd: Int32, openedFrom path: String) throws(Failure) -> Bool {
        if retryingInterrupts({ flock(fd, LOCK_EX | LOCK_NB) }) != 0 {
            let error = errno
            if error == EWOULDBLOCK { throw .heldBy(pid: readPid(fd), path: path) }
            throw .system(SystemError(call: "flock(\(path))", errno: error))
        }
        var locked = stat()
        var current = stat()
        if fstat(fd, &locked) != 0 { throw .system(.last("fstat(\(path))")) }
        if stat(path, &current) != 0 {
            if errno == ENOENT { return false }
            throw .system(.last("stat(\(path))"))
        }
        return locked.st_dev == current.st_dev && locked.st_ino == current.st_ino
    }

    /// Unlinks the file on a clean exit, while still holding the lock, so
    /// no one else's fresh pid file can be the one removed.
    func remove() {
        unlink(path)
        close(fd)
    }

    private static func readPid(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self).split(whereSeparator: \.isWhitespace).first.flatMap { Int32($0) }
    }
}
