import Foundation
import Glibc

extension EndToEnd {
    /// What the tests look at of appd's cgroups: where they are (the
    /// daemon's log names them), which process is in which, and their
    /// removal after a master was SIGKILLed, so no test leaves one behind.
    enum CgroupProbe {
        /// Whether this host lets a root process make cgroups (v2) beside
        /// its own: what appd needs to use them.
        static var hostHasWritableCgroup2: Bool {
            guard geteuid() == 0, let path = cgroup(of: getpid()),
                  let mountinfo = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8),
                  let mount = mountinfo.split(separator: "\n").first(where: { $0.contains(" - cgroup2 ") }) else { return false }
            let fields = mount.split(separator: " ")
            guard fields.count > 4, fields[3] == "/" else { return false }
            return access(String(fields[4]) + path, W_OK) == 0
        }

        /// appd's cgroup subtree, from its start-up log line.
        static func root(inLog log: String) -> String? {
            guard let range = log.range(of: "workers run in cgroups under ") else { return nil }
            let path = log[range.upperBound...].prefix { $0 != " " }
            return path.hasPrefix("/") ? String(path) : nil
        }

        /// The cgroup v2 path of a process ("0::" line of /proc/PID/cgroup).
        static func cgroup(of pid: Int32) -> String? {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8) else { return nil }
            return text.split(separator: "\n").first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) }
        }

        /// The worker cgroups of a group that exist now.
        static func workerCgroups(under root: String, group: String) -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: root + "/group." + group)) ?? []).filter { $0.hasPrefix("w") }
        }

        /// The session a process belongs to (field 6 of /proc/PID/stat).
        static func session(of pid: Int32) -> Int32? {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 3 ? Int32(fields[3]) : nil
        }

        /// Removes appd's subtree bottom-up once its processes are gone
        /// (cgroup.kill is asynchronous); only an `appd.<pid>` directory.
        static func remove(_ root: String) {
            guard (root as NSString).lastPathComponent.hasPrefix("appd.") else { return }
            _ = Polling.blockingUntil(timeout: 5) {
                removeTree(root)
                return !FileManager.default.fileExists(atPath: root)
            }
        }

        private static func removeTree(_ path: String) {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            for entry in entries {
                var isDirectory: ObjCBool = false
                let child = path + "/" + entry
                if FileManager.default.fileExists(atPath: child, isDirectory: &isDirectory), isDirectory.boolValue { removeTree(child) }
            }
            rmdir(path)
        }
    }
}
