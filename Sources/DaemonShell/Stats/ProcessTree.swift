import Glibc

/// Who descends from whom, from one pass over /proc: the fallback without
/// cgroups, so `status` and `connections` still cover a pre-fork server's
/// children (gunicorn's workers, php-fpm's pool) and not its leader alone.
///
/// A worker's members are its descendants by parent pid plus whatever is
/// still in its process group: a grandchild whose parent exited is
/// re-parented to the master (its subreaper) and is found by its group;
/// one that also left the group with `setsid` is out of sight, which only
/// a cgroup (`WorkerCgroup`) fixes.
struct ProcessTree {
    private var children: [Int32: [Int32]] = [:]
    private var processGroups: [Int32: [Int32]] = [:]

    /// Reads /proc/PID/stat of every process once.
    static func read() -> ProcessTree {
        var tree = ProcessTree()
        guard let directory = opendir("/proc") else { return tree }
        defer { closedir(directory) }
        var reader = ProcFileReader(capacity: 512)
        while let entry = readdir(directory) {
            let name = entry.entryName
            guard let pid = Int32(name),
                  let parents = reader.withContents(ofProcess: pid, "stat", Self.parentAndGroup) ?? nil else { continue }
            tree.children[parents.parent, default: []].append(pid)
            tree.processGroups[parents.group, default: []].append(pid)
        }
        return tree
    }

    /// The leader first, then its descendants and its process group's other members.
    func members(of leader: Int32) -> [Int32] {
        var seen: Set<Int32> = [leader]
        var result = [leader]
        var queue = [leader] + (processGroups[leader] ?? [])
        while let pid = queue.popLast() {
            if seen.insert(pid).inserted { result.append(pid) }
            queue += (children[pid] ?? []).filter { !seen.contains($0) }
        }
        return result
    }

    /// Fields 4 (ppid) and 5 (pgrp) of a stat line, counted after the last
    /// ')' since the command name may hold anything.
    static func parentAndGroup(_ bytes: UnsafeBufferPointer<UInt8>) -> (parent: Int32, group: Int32)? {
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
        guard fields.count >= 3, let parent = Int32(String(decoding: fields[1], as: UTF8.self)),
              let group = Int32(String(decoding: fields[2], as: UTF8.self)) else { return nil }
        return (parent, group)
    }
}
