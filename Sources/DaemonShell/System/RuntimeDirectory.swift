import CSystem
import Glibc
import Shared

/// A directory appd writes its own files in (pid file, locks, control
/// socket, status file, log), opened so that no one but appd's user and
/// root can have put anything there for appd to trip over.
///
/// The path is walked from "/" one component at a time, each opened
/// relative to the one before (`openat`, O_NOFOLLOW), so what is checked is
/// what is used, with no window to swap a component between check and use:
///
/// - A missing component is made, mode 0700 (`mkdirat`), when `creating`.
/// - A symlink is followed only where it sits in a directory no one but its
///   owner (appd's user or root) can write, where only they could have made
///   it: `/var/run -> /run` is fine, a link planted in `/tmp` is refused.
///   With `refusingSymlink` (appd's default runtime directory) the
///   directory itself may not be a symlink at all.
/// - The directory reached must be owned by appd's user or root and not be
///   writable by group or others; else the error says which it is and what
///   to do.
///
/// Files in it are then opened relative to its fd, with O_NOFOLLOW (and
/// O_EXCL for temporary files), so a symlink where appd writes is refused,
/// not followed.
struct RuntimeDirectory {
    let path: String
    /// O_PATH, close-on-exec: the dirfd of every operation on the directory's files.
    let fd: Int32

    /// O_PATH: the walk needs to search directories, not to list them.
    private static let pathOnly = Int32(CS_O_PATH)

    /// Opens (and with `creating`, makes) the directory `path` and checks it.
    static func open(_ path: String, creating: Bool = true, refusingSymlink: Bool = false) throws(SystemError) -> RuntimeDirectory {
        let call = "runtime directory \(path)"
        let absolute = path.hasPrefix("/")
        var current = try checked("open(\(absolute ? "/" : "."))", Glibc.open(absolute ? "/" : ".", Self.pathOnly | O_DIRECTORY | O_CLOEXEC))
        var walked = absolute ? "" : "."
        let components = path.split(separator: "/").map(String.init).filter { $0 != "." }
        do throws(SystemError) {
            for (index, name) in components.enumerated() {
                let parent = walked.isEmpty ? "/" : walked
                walked += "/" + name
                let isLast = index == components.count - 1
                let next = try step(from: current, parent: parent, name: name, walked: walked, call: call, creating: creating,
                                    refusingSymlink: refusingSymlink && isLast)
                Glibc.close(current)
                current = next
            }
            try checkOwnerAndMode(current, call: call, path: path)
        } catch {
            Glibc.close(current)
            throw error
        }
        return RuntimeDirectory(path: path, fd: current)
    }

    /// The directory `file` is in, opened as `open(_:)` does, and the file's
    /// name in it. appd's default runtime directory (`RuntimePaths`) may not
    /// be a symlink.
    static func open(parentOf file: String, creating: Bool = true) throws(SystemError) -> (directory: RuntimeDirectory, name: String) {
        let (parent, name) = split(file)
        let directory = try open(parent, creating: creating, refusingSymlink: parent == RuntimePaths.defaultDirectory)
        return (directory, name)
    }

    /// "/run/appd/appd.pid" → ("/run/appd", "appd.pid"); a bare name is in ".".
    static func split(_ file: String) -> (directory: String, name: String) {
        guard let slash = file.lastIndex(of: "/") else { return (".", file) }
        let directory = slash == file.startIndex ? "/" : String(file[..<slash])
        return (directory, String(file[file.index(after: slash)...]))
    }

    func close() {
        Glibc.close(fd)
    }

    /// `path/name`, for messages.
    func path(of name: String) -> String { path == "/" ? "/" + name : path + "/" + name }

    // MARK: - Files in the directory

    /// Opens `file` for appending (the log), created if missing: its
    /// directory made and checked as `open(parentOf:)` does, a symlink at
    /// `file` refused. A FIFO or a device (/dev/null) is taken as it is.
    static func openForAppending(_ file: String) throws(SystemError) -> Int32 {
        let (directory, name) = try open(parentOf: file)
        defer { directory.close() }
        return try directory.openFile(name, O_WRONLY | O_APPEND | O_CREAT, mode: 0o644, regularOnly: false)
    }

    /// Opens `name` with `flags` (O_CLOEXEC and O_NOFOLLOW added): a symlink
    /// there is refused (ELOOP), never followed. With `regularOnly` anything
    /// but a regular file (a FIFO, a device, a directory) is refused too.
    func openFile(_ name: String, _ flags: Int32, mode: mode_t = 0o644, regularOnly: Bool = true) throws(SystemError) -> Int32 {
        let fd = openat(self.fd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let error = errno
            if error == ELOOP {
                throw SystemError(call: "open(\(path(of: name)))", errno: error,
                                  reason: "is a symlink; appd does not follow symlinks where it writes: remove it")
            }
            throw SystemError(call: "open(\(path(of: name)))", errno: error)
        }
        var info = stat()
        if regularOnly, fstat(fd, &info) != 0 || info.st_mode & S_IFMT != S_IFREG {
            Glibc.close(fd)
            throw SystemError(call: "open(\(path(of: name)))", errno: EINVAL, reason: "is not a regular file: remove it")
        }
        return fd
    }

    /// Replaces `name` with `bytes` at once: written to a temporary file
    /// made with O_EXCL (a leftover one of a crashed write, or anything
    /// planted there, is unlinked first, which never follows a symlink),
    /// then renamed over `name` (which replaces a symlink there rather than
    /// writing through it). A failure leaves the previous file in place.
    func replaceFile(_ name: String, with bytes: [UInt8], mode: mode_t = 0o644) throws(SystemError) {
        let temporary = name + ".tmp"
        var fd = openat(self.fd, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        if fd < 0 && errno == EEXIST {
            unlinkat(self.fd, temporary, 0)
            fd = openat(self.fd, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        }
        guard fd >= 0 else { throw SystemError.last("open(\(path(of: temporary)))") }
        do throws(SystemError) {
            defer { Glibc.close(fd) }
            try FileIO.writeAll(fd, bytes)
        } catch {
            unlinkat(self.fd, temporary, 0)
            throw error
        }
        if renameat(self.fd, temporary, self.fd, name) != 0 {
            let error = SystemError.last("rename(\(path(of: temporary)), \(path(of: name)))")
            unlinkat(self.fd, temporary, 0)
            throw error
        }
    }

    /// Device and inode of the entry `name` itself (a symlink is not
    /// followed); nil when there is none.
    func identity(of name: String) throws(SystemError) -> (device: UInt64, inode: UInt64)? {
        var info = stat()
        if fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) != 0 {
            if errno == ENOENT { return nil }
            throw SystemError.last("stat(\(path(of: name)))")
        }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }

    /// Removes the entry `name` (a symlink itself, never what it points to).
    func unlink(_ name: String) {
        unlinkat(fd, name, 0)
    }

    // MARK: - The walk

    /// Opens `name` in the directory `current` (whose path is `parent`).
    private static func step(
        from current: Int32, parent: String, name: String, walked: String, call: String, creating: Bool, refusingSymlink: Bool
    ) throws(SystemError) -> Int32 {
        if name == ".." { return try checked("open(\(walked))", openat(current, name, Self.pathOnly | O_DIRECTORY | O_CLOEXEC)) }
        for attempt in 0..<2 {
            let next = openat(current, name, Self.pathOnly | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next >= 0 {
                // O_PATH | O_NOFOLLOW may hand back the link itself: only a directory goes on.
                var info = stat()
                if fstat(next, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { return next }
                Glibc.close(next)
            } else if errno == ENOENT {
                guard creating else { throw SystemError.last("open(\(walked))") }
                if mkdirat(current, name, 0o700) != 0 && (errno != EEXIST || attempt > 0) {
                    throw SystemError.last("mkdir(\(walked))")
                }
                continue
            } else if errno != ENOTDIR && errno != ELOOP {
                throw SystemError.last("open(\(walked))")
            }
            var entry = stat()
            try checked("stat(\(walked))", fstatat(current, name, &entry, AT_SYMLINK_NOFOLLOW))
            guard entry.st_mode & S_IFMT == S_IFLNK else {
                throw SystemError(call: call, errno: ENOTDIR, reason: "\(walked) is not a directory")
            }
            if refusingSymlink {
                throw SystemError(call: call, errno: ELOOP, reason: "is a symlink; appd's runtime directory must be a real "
                    + "directory of appd's user (a link there may have been planted to redirect appd's files): "
                    + "remove it, or give appd another directory (XDG_RUNTIME_DIR, or controlSocket, pidFile and statusFile in the config)")
            }
            var holder = stat()
            try checked("fstat(\(parent))", fstat(current, &holder))
            guard isTrusted(holder) else {
                throw SystemError(call: call, errno: ELOOP, reason: "\(walked) is a symlink in \(parent), which others can "
                    + "write (mode \(octal(holder.st_mode & 0o7777)), owner uid \(holder.st_uid)), so anyone could have planted it: "
                    + "appd follows symlinks only where they cannot have been planted. Replace it with a real directory or choose another path")
            }
            return try checked("open(\(walked))", openat(current, name, Self.pathOnly | O_DIRECTORY | O_CLOEXEC))
        }
        throw SystemError(call: call, errno: EAGAIN, reason: "\(walked) kept changing while appd made it")
    }

    /// Owned by appd's user or root, and writable by no one else.
    private static func checkOwnerAndMode(_ fd: Int32, call: String, path: String) throws(SystemError) {
        var info = stat()
        try checked("fstat(\(path))", fstat(fd, &info))
        let me = geteuid()
        guard info.st_uid == me || info.st_uid == 0 else {
            throw SystemError(call: call, errno: EPERM, reason: "is owned by uid \(info.st_uid), not by appd's user (uid \(me)) "
                + "or root: another user may have made it to plant files for appd. Check what is in it and remove it, or give "
                + "appd a directory of its own (XDG_RUNTIME_DIR, or controlSocket, pidFile, statusFile and logFile in the config)")
        }
        guard info.st_mode & 0o022 == 0 else {
            throw SystemError(call: call, errno: EPERM, reason: "is writable by \(info.st_mode & 0o002 != 0 ? "others" : "its group") "
                + "(mode \(octal(info.st_mode & 0o7777))): whoever can write there could plant symlinks or files for appd. "
                + "Check what is in it, then `chmod go-w \(path)`, or give appd a directory only its user can write")
        }
    }

    /// A directory whose entries only appd's user or root can have made.
    static func isTrusted(_ info: stat) -> Bool {
        (info.st_uid == 0 || info.st_uid == geteuid()) && info.st_mode & 0o022 == 0
    }

    private static func octal(_ mode: mode_t) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
