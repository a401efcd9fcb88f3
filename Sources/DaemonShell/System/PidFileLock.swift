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
    /// Where the file is: it is opened, checked and unlinked through this
    /// directory's fd, never by a path a symlink could redirect.
    private let directory: RuntimeDirectory
    private let name: String
    private let fd: Int32

    /// Locks `path` (creating it, and its directory with mode 0700) and
    /// writes our pid into it. The fd stays open, and the lock held, until
    /// the process exits. The directory must pass `RuntimeDirectory`'s
    /// checks, and a symlink at `path` is refused, not followed.
    init(path: String) throws(Failure) {
        self.path = path
        do throws(SystemError) {
            (directory, name) = try RuntimeDirectory.open(parentOf: path)
        } catch {
            throw .system(error)
        }
        do throws(Failure) {
            fd = try Self.lockCurrentFile(name, in: directory, path: path)
        } catch {
            directory.close()
            throw error
        }
        let contents = Array("\(getpid())\n".utf8)
        let written = contents.withUnsafeBytes { ftruncate(fd, 0) == 0 ? pwrite(fd, $0.baseAddress, $0.count, 0) : -1 }
        if written != contents.count {
            let error = SystemError.last("write(\(path))")
            close(fd)
            directory.close()
            throw .system(error)
        }
    }

    /// Opens and locks the file `name`, again while the one locked turns
    /// out to be gone from there: a daemon stopping unlinks its file between
    /// our open and our flock, and a lock on that deleted inode would let a
    /// third daemon create and lock a fresh file too. Bounded, in case
    /// something keeps replacing the file.
    private static func lockCurrentFile(_ name: String, in directory: RuntimeDirectory, path: String) throws(Failure) -> Int32 {
        for _ in 0..<10 {
            let fd: Int32
            do throws(SystemError) {
                fd = try directory.openFile(name, O_RDWR | O_CREAT)
            } catch {
                throw .system(error)
            }
            do throws(Failure) {
                if try lock(fd, name: name, in: directory, path: path) { return fd }
                close(fd)
            } catch {
                close(fd)
                throw error
            }
        }
        throw .system(SystemError(call: "flock(\(path))", errno: EAGAIN, reason: "the file kept being replaced"))
    }

    /// Locks `fd`, opened as `name` in `directory`; false when the file it
    /// locked is no longer the one there (unlinked or replaced since the
    /// open). Never closes `fd`: the caller keeps it on true and closes it
    /// otherwise.
    static func lock(_ fd: Int32, name: String, in directory: RuntimeDirectory, path: String) throws(Failure) -> Bool {
        if retryingInterrupts({ flock(fd, LOCK_EX | LOCK_NB) }) != 0 {
            let error = errno
            if error == EWOULDBLOCK { throw .heldBy(pid: readPid(fd), path: path) }
            throw .system(SystemError(call: "flock(\(path))", errno: error))
        }
        var locked = stat()
        if fstat(fd, &locked) != 0 { throw .system(.last("fstat(\(path))")) }
        let current: (device: UInt64, inode: UInt64)?
        do throws(SystemError) {
            current = try directory.identity(of: name)
        } catch {
            throw .system(error)
        }
        guard let current else { return false }
        return UInt64(locked.st_dev) == current.device && UInt64(locked.st_ino) == current.inode
    }

    /// Unlinks the file on a clean exit, while still holding the lock, so
    /// no one else's fresh pid file can be the one removed.
    func remove() {
        directory.unlink(name)
        close(fd)
        directory.close()
    }

    private static func readPid(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self).split(whereSeparator: \.isWhitespace).first.flatMap { Int32($0) }
    }
}
