import CSystem
import Glibc

/// A log file as its sink's writer thread keeps it: appended to, rotated by
/// size (`LogRotation`) through its directory's descriptor, and replaced by
/// a reopened one when asked (`appctl logs --reopen`, after an external
/// logrotate moved it away). A `raw` log's file is filled by `splice`
/// rather than `write`.
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
        /// Opened with O_APPEND, for `write`. A file for `splice` is not
        /// (splice refuses O_APPEND) and is written at its end as `fstat` tells it.
        let appending: Bool

        static func open(_ path: String, appending: Bool = true) throws(SystemError) -> Handle {
            let (directory, name) = try RuntimeDirectory.open(parentOf: path)
            do {
                let fd = try openFile(name, in: directory, appending: appending)
                return Handle(path: path, directory: directory, name: name, fd: fd, appending: appending)
            } catch {
                directory.close()
                throw error
            }
        }

        /// A FIFO or /dev/null is taken as it is (they are never rotated:
        /// renaming one does no harm).
        fileprivate static func openFile(_ name: String, in directory: RuntimeDirectory, appending: Bool) throws(SystemError) -> Int32 {
            try directory.openFile(name, O_WRONLY | O_CREAT | (appending ? O_APPEND : 0), regularOnly: false)
        }

        func close() {
            FileIO.close(fd)
            directory.close()
        }

        /// Bytes in the file now: where rotation starts counting.
        var size: Int { end ?? 0 }

        /// Where a regular file ends now (`splice` writes there); nil for a
        /// FIFO or a device, written as a stream.
        var end: Int? {
            var info = stat()
            return fstat(fd, &info) == 0 && info.st_mode & S_IFMT == S_IFREG ? Int(info.st_size) : nil
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
                problem = rotateOrStopRotating() ?? problem
                continue
            }
            Self.writeFully(handle.fd, rest.prefix(count))
            size += count
            rest = rest.dropFirst(count)
        }
        return problem
    }

    /// What one `splice` did.
    enum Spliced: Equatable {
        /// Bytes went from the pipe to the file.
        case moved(Int)
        /// Every write end of the pipe is closed and it is empty.
        case endOfFile
        /// The file does not take splice (a terminal): `write` it instead.
        case unsupported
        /// errno of a failure the next call may not have (the disk is full).
        case failed(Int32)
    }

    /// Moves what the pipe holds, up to `maximum` bytes, to the file's end
    /// without copying it through this process (splice(2)); blocks until
    /// the pipe has something. Bytes, not lines: a file that is full
    /// (`maxBytes`) is rotated first, and a piece is cut where the file
    /// fills, wherever that falls in a line, as supervisord does. The end
    /// is where `fstat` says, so an external `copytruncate` is followed.
    /// `problem`: why a rotation failed (the file is then written on without rotation).
    func splice(from pipe: Int32, maximum: Int) -> (Spliced, problem: String?) {
        var problem: String?
        // nil: a FIFO or a device, written as a stream, without an offset.
        let end = handle.end
        if let end { size = end }
        if rotation.maxBytes > 0, size >= rotation.maxBytes { problem = rotateOrStopRotating() }
        let length = rotation.maxBytes > 0 ? min(maximum, rotation.maxBytes - size) : maximum
        var at = Int64(size)
        let moved = withUnsafeMutablePointer(to: &at) { at in
            cs_splice_from_pipe(pipe, handle.fd, end == nil ? nil : at, length)
        }
        switch moved {
        case 0:
            return (.endOfFile, problem)
        case 1...:
            size += moved
            return (.moved(moved), problem)
        default:
            return (errno == EINVAL ? .unsupported : .failed(errno), problem)
        }
    }

    /// Rotates the file; when that fails, the file is written on without
    /// rotation (until a reopen or a reload sets it again), and what to say
    /// about it is returned, once.
    private func rotateOrStopRotating() -> String? {
        guard let failure = rotate() else { return nil }
        rotation.maxBytes = 0
        return "cannot rotate \(handle.path): \(failure); writing on without rotating"
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
            let fd = try Handle.openFile(handle.name, in: directory, appending: handle.appending)
            FileIO.close(handle.fd)
            handle = Handle(path: handle.path, directory: directory, name: handle.name, fd: fd, appending: handle.appending)
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
