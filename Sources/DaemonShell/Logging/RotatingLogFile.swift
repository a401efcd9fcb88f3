import Glibc

/// A log file as its sink's writer thread keeps it: appended to, rotated by
/// size (`LogRotation`) through its directory's descriptor, and replaced by
/// a reopened one when asked (`appctl logs --reopen`, after an external
/// logrotate moved it away).
///
/// Writes and rotations run on the writer thread, so a slow disk holds up
/// the log, never the supervision loop. Opening (`Handle.open`) is done by
/// the loop, at start-up and on a reopen, so that it can say what failed.
final class RotatingLogFile {
    /// A log file opened as docs/SECURITY.md says: its directory walked and
    /// checked (`RuntimeDirectory`), the file opened in it with O_NOFOLLOW.
    struct Handle {
        let path: String
        let directory: RuntimeDirectory
        let name: String
        let fd: Int32

        static func open(_ path: String) throws(SystemError) -> Handle {
            let (directory, name) = try RuntimeDirectory.open(parentOf: path)
            do {
                // A FIFO or /dev/null is taken as it is (they are never rotated: renaming one does no harm).
                let fd = try directory.openFile(name, O_WRONLY | O_APPEND | O_CREAT, regularOnly: false)
                return Handle(path: path, directory: directory, name: name, fd: fd)
            } catch {
                directory.close()
                throw error
            }
        }

        func close() {
            FileIO.close(fd)
            directory.close()
        }

        /// Bytes in the file now: where rotation starts counting.
        var size: Int {
            var info = stat()
            return fstat(fd, &info) == 0 && info.st_mode & S_IFMT == S_IFREG ? Int(info.st_size) : 0
        }
    }

    private var handle: Handle
    private var size: Int
    var rotation: LogRotation
    /// A daemonized appd's stdout and stderr are its log file (`Daemonizer`):
    /// they follow each new file, so what the runtime itself prints there
    /// lands in the current log rather than in a rotated copy.
    private let carriesStandardStreams: Bool

    init(_ handle: Handle, rotation: LogRotation, carriesStandardStreams: Bool = false) {
        self.handle = handle
        self.size = handle.size
        self.rotation = rotation
        self.carriesStandardStreams = carriesStandardStreams
    }

    var path: String { handle.path }

    /// Writes whole lines, rotating before each line that would not fit.
    /// Returns why a rotation failed, if one did: the file is then written
    /// on without rotation until a reopen or a reload sets it again, so the
    /// failure is said once, not at every line.
    func write(_ lines: ArraySlice<UInt8>) -> String? {
        var rest = lines
        var problem: String?
        while !rest.isEmpty {
            let count = rotation.bytesToWrite(of: rest, intoFileOf: size)
            guard count > 0 else {
                if let failure = rotate() {
                    problem = "cannot rotate \(handle.path): \(failure); writing on without rotating"
                    rotation.maxBytes = 0
                }
                continue
            }
            Self.writeFully(handle.fd, rest.prefix(count))
            size += count
            rest = rest.dropFirst(count)
        }
        return problem
    }

    /// Renames the copies up and the file to `.1` (`LogRotation.steps`), then
    /// begins a new file. Nil when it worked, else what failed; the file is
    /// kept open either way, so no line is lost.
    private func rotate() -> String? {
        let directory = handle.directory
        for step in rotation.steps(for: handle.name) {
            switch step {
            case .rename(let from, let to):
                if renameat(directory.fd, from, directory.fd, to) != 0, errno != ENOENT {
                    return SystemError.last("rename(\(directory.path(of: from)), \(directory.path(of: to)))").description
                }
            case .remove(let name):
                if unlinkat(directory.fd, name, 0) != 0, errno != ENOENT {
                    return SystemError.last("unlink(\(directory.path(of: name)))").description
                }
            }
        }
        do {
            let fd = try directory.openFile(handle.name, O_WRONLY | O_APPEND | O_CREAT, regularOnly: false)
            FileIO.close(handle.fd)
            handle = Handle(path: handle.path, directory: directory, name: handle.name, fd: fd)
            size = handle.size
            followWithStandardStreams()
            return nil
        } catch {
            return error.description
        }
    }

    /// Takes over a file the loop reopened (`Handle.open`); the old one is closed.
    func adopt(_ reopened: Handle) {
        handle.close()
        handle = reopened
        size = reopened.size
        followWithStandardStreams()
    }

    func close() { handle.close() }

    private func followWithStandardStreams() {
        guard carriesStandardStreams else { return }
        dup2(handle.fd, STDOUT_FILENO)
        dup2(handle.fd, STDERR_FILENO)
    }

    /// A piece whole, or as much as the descriptor takes before failing:
    /// there is nowhere left to report a failing log.
    static func writeFully(_ fd: Int32, _ bytes: ArraySlice<UInt8>) {
        var rest = bytes
        while !rest.isEmpty {
            let written = rest.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            rest = rest.dropFirst(written)
        }
    }
}
