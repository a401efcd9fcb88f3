/// Where appd's own cgroup v2 directory is, worked out from the text of
/// /proc/self/mountinfo and /proc/self/cgroup. The mount is not always
/// /sys/fs/cgroup (hybrid hosts mount it at /sys/fs/cgroup/unified, some
/// containers elsewhere), and in a cgroup namespace or a bind mount the
/// mount's root is a subdirectory of the hierarchy: the path in
/// /proc/self/cgroup is then relative to the hierarchy, not to the mount.
/// Pure text in, path out, so it is unit-tested without a cgroup.
struct CgroupLocation: Equatable, Sendable {
    /// Where the cgroup2 file system is mounted.
    var mountPoint: String
    /// appd's own cgroup as a directory: mountPoint + its path below the mount's root.
    var directory: String
    /// appd's own cgroup as /proc/self/cgroup names it, e.g. "/" or "/system.slice/appd.service".
    var cgroupPath: String

    /// Why no usable location was found: said once in the log.
    enum Problem: Error, Equatable, CustomStringConvertible {
        /// No "0::" line: a cgroup v1-only host.
        case noUnifiedHierarchy
        case noCgroup2Mount
        /// The cgroup lies outside the mounted part of the hierarchy.
        case outsideMount(cgroup: String, mountRoot: String)

        var description: String {
            switch self {
            case .noUnifiedHierarchy: return "the process is in no cgroup v2 hierarchy (/proc/self/cgroup has no '0::' line: a cgroup v1-only host)"
            case .noCgroup2Mount: return "no cgroup2 file system is mounted (/proc/self/mountinfo)"
            case .outsideMount(let cgroup, let root):
                return "appd's cgroup \(cgroup) is outside the mounted part (\(root)) of the cgroup2 hierarchy"
            }
        }
    }

    static func find(mountinfo: String, selfCgroup: String) -> Result<CgroupLocation, Problem> {
        guard let cgroupPath = unifiedPath(selfCgroup) else { return .failure(.noUnifiedHierarchy) }
        guard let mount = cgroup2Mount(mountinfo) else { return .failure(.noCgroup2Mount) }
        let below: Substring
        if mount.root == "/" {
            below = cgroupPath.dropFirst()
        } else if cgroupPath == mount.root {
            below = ""
        } else if cgroupPath.hasPrefix(mount.root + "/") {
            below = cgroupPath.dropFirst(mount.root.count + 1)
        } else {
            return .failure(.outsideMount(cgroup: cgroupPath, mountRoot: mount.root))
        }
        let directory = below.isEmpty ? mount.point : mount.point + "/" + below
        return .success(CgroupLocation(mountPoint: mount.point, directory: directory, cgroupPath: cgroupPath))
    }

    /// The path of the "0::PATH" line (cgroup v2's single hierarchy).
    static func unifiedPath(_ selfCgroup: String) -> String? {
        for line in selfCgroup.split(separator: "\n") where line.hasPrefix("0::") {
            let path = String(line.dropFirst(3))
            // " (deleted)" marks a cgroup removed under the process.
            return path.hasPrefix("/") && !path.hasSuffix(" (deleted)") ? path : nil
        }
        return nil
    }

    /// The first cgroup2 mount: its mount point and the hierarchy path it
    /// shows. A mountinfo line is "ID PARENT MAJ:MIN ROOT POINT OPTIONS
    /// [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS"; ROOT and POINT escape
    /// space, tab, newline and backslash as octal (\040).
    static func cgroup2Mount(_ mountinfo: String) -> (root: String, point: String)? {
        for line in mountinfo.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let separator = fields.firstIndex(of: "-"), separator >= 6, separator + 1 < fields.count,
                  fields[separator + 1] == "cgroup2" else { continue }
            return (unescape(fields[3]), unescape(fields[4]))
        }
        return nil
    }

    /// Undoes mountinfo's octal escapes ("\040" is a space).
    static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
               let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
