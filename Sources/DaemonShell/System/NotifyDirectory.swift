import CSystem
import Glibc

/// The directory the workers' notify channels are bound in, beside the
/// control socket (`<controlSocket>.notify.d`): mode 0700, owned by the
/// daemon's user, so only that user and root can reach a channel in it.
///
/// Taken over only under the control socket's lock: no other live daemon
/// uses it, so what a crashed daemon left in it is stale and removed.
struct NotifyDirectory {
    let path: String
    /// Held for the daemon's life: entries are listed and removed through
    /// it, never by a path a symlink could redirect.
    private let fd: Int32

    /// Creates `path` (mode 0700), or takes over the one an earlier daemon
    /// left and empties it. Refuses a symlink, anything that is not a
    /// directory, and a directory owned by another user; a directory of
    /// ours with a laxer mode is made 0700.
    init(path: String) throws(SystemError) {
        if mkdir(path, 0o700) != 0 && errno != EEXIST { throw .last("mkdir(\(path))") }
        // O_NOFOLLOW: a symlink there fails here (ELOOP) instead of leading
        // the cleanup below into someone else's directory.
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let error = errno
            if error == ELOOP || error == ENOTDIR {
                throw SystemError(call: "notify directory \(path)", errno: error,
                                  reason: "is not a directory (a symlink or another file): remove it or choose another controlSocket")
            }
            throw SystemError(call: "open(\(path))", errno: error)
        }
        do throws(SystemError) {
            var info = stat()
            try checked("fstat(\(path))", fstat(fd, &info))
            guard info.st_uid == geteuid() else {
                throw SystemError(call: "notify directory \(path)", errno: EPERM,
                                  reason: "is owned by uid \(info.st_uid), not appd's uid \(geteuid()): refusing to use it")
            }
            if info.st_mode & 0o7777 != 0o700 { try checked("fchmod(\(path), 0700)", fchmod(fd, 0o700)) }
            try Self.removeEntries(of: fd, path: path)
        } catch {
            close(fd)
            throw error
        }
        self.fd = fd
        self.path = path
    }

    /// The path of an entry named `name`.
    func path(of name: String) -> String { path + "/" + name }

    /// Closes the directory and removes it; it is empty by then (each
    /// channel unlinks its own file). A directory that is not empty stays.
    func remove() {
        close(fd)
        rmdir(path)
    }

    /// Unlinks every entry (unlinkat never follows a symlink: a link is
    /// removed, not what it points to); an empty subdirectory is removed
    /// too, a non-empty one is refused. Lists and removes in rounds until a
    /// listing comes back empty, since removing while listing may skip entries.
    private static func removeEntries(of fd: Int32, path: String) throws(SystemError) {
        while true {
            let names = try entryNames(of: fd, path: path)
            if names.isEmpty { return }
            for name in names {
                if unlinkat(fd, name, 0) == 0 || errno == ENOENT { continue }
                if errno == EISDIR, unlinkat(fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT { continue }
                throw .last("unlinkat(\(path)/\(name))")
            }
        }
    }

    /// Every name in the directory but "." and "..".
    private static func entryNames(of fd: Int32, path: String) throws(SystemError) -> [String] {
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw .last("lseek(\(path))") }
        var names: [String] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 32 * 1024, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            let filled = cs_getdents64(fd, buffer.baseAddress, buffer.count)
            guard filled >= 0 else { throw .last("getdents64(\(path))") }
            if filled == 0 { return names }
            var offset = 0
            while offset < filled {
                let record = buffer.baseAddress! + offset
                offset += Int(record.loadUnaligned(fromByteOffset: 16, as: UInt16.self))
                let name = String(cString: (record + 19).assumingMemoryBound(to: CChar.self))
                if name != "." && name != ".." { names.append(name) }
            }
        }
    }
}
