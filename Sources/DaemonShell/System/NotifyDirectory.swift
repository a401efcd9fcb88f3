import CSystem
import Glibc
import Shared

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

    /// Gives the socket `name` to a worker that runs as another user
    /// (`user` of its group), so that it can send there: the socket file
    /// becomes that user's (mode 0600 stays: no one else may send), and
    /// this directory and the control socket's, which holds it, get search
    /// permission for others (`o+x`, added only: a name in them can be
    /// reached, none listed, none made). Through the directory's fd, on a
    /// socket appd has just bound in a directory only appd can write: no
    /// link can stand in for it.
    func handOver(_ name: String, to identity: WorkerIdentity) throws(SystemError) {
        try Self.letOthersSearch(fd, path: path)
        let parent = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parent >= 0 else { throw .last("open(\(path)/..)") }
        defer { close(parent) }
        try Self.letOthersSearch(parent, path: RuntimeDirectory.split(path).directory)
        try checked("fchownat(\(self.path(of: name)), uid \(identity.uid), gid \(identity.gid))",
                    fchownat(fd, name, identity.uid, identity.gid, AT_SYMLINK_NOFOLLOW))
    }

    /// The first directory on the way to this one that `identity` may not
    /// pass (no search permission for it), with its mode and owner; nil
    /// when it may reach its socket. The two directories `handOver` opens
    /// are passable by then; those above them are the operator's.
    func firstDirectoryBlocking(_ identity: WorkerIdentity) -> (path: String, mode: mode_t, owner: uid_t)? {
        guard identity.uid != 0 else { return nil }
        let components = path.split(separator: "/")
        for prefix in ["/"] + components.indices.map({ "/" + components[...$0].joined(separator: "/") }) {
            var info = stat()
            guard stat(prefix, &info) == 0 else { return nil }
            let bit: mode_t = info.st_uid == identity.uid ? S_IXUSR
                : identity.groups.contains(info.st_gid) || info.st_gid == identity.gid ? S_IXGRP : S_IXOTH
            if info.st_mode & bit == 0 { return (prefix, info.st_mode & 0o7777, info.st_uid) }
        }
        return nil
    }

    /// Adds `o+x` to the directory `fd` unless it has it.
    private static func letOthersSearch(_ fd: Int32, path: String) throws(SystemError) {
        var info = stat()
        try checked("fstat(\(path))", fstat(fd, &info))
        guard info.st_mode & S_IXOTH == 0 else { return }
        try checked("fchmod(\(path), o+x)", fchmod(fd, (info.st_mode & 0o7777) | S_IXOTH))
    }

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
