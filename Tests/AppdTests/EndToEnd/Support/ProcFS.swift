import Foundation
import Glibc

extension EndToEnd {
    /// What /proc says about processes, read without reaping or signalling anyone.
    enum ProcFS {
        /// The direct children of a single-threaded process (its main thread's
        /// children, which is where appd forks from).
        static func childPids(of pid: Int32) -> [Int32] {
            let text = String(decoding: readWhole("/proc/\(pid)/task/\(pid)/children"), as: UTF8.self)
            return text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }

        /// A /proc file read to its end. Not `String(contentsOfFile:)`: for a
        /// file whose size says 0 it returned only the first 4 KiB, so a
        /// master with a thousand children seemed to have 700.
        static func readWhole(_ path: String) -> [UInt8] {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return [] }
            defer { close(fd) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { return bytes }
                bytes += chunk[..<count]
            }
        }

        /// Every descendant, depth first.
        static func descendants(of pid: Int32) -> [Int32] {
            var result: [Int32] = []
            var stack = childPids(of: pid)
            while let next = stack.popLast() {
                result.append(next)
                stack.append(contentsOf: childPids(of: next))
            }
            return result
        }

        /// The environment the process was exec'd with; empty for a zombie, a
        /// process of another user, or one that is gone.
        static func environment(of pid: Int32) -> [String: String] {
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return [:] }
            var result: [String: String] = [:]
            for entry in data.split(separator: 0) {
                let text = String(decoding: entry, as: UTF8.self)
                if let equals = text.firstIndex(of: "=") {
                    result[String(text[..<equals])] = String(text[text.index(after: equals)...])
                }
            }
            return result
        }

        /// Whether the unix socket bound at `path` listens yet, from
        /// /proc/net/unix (a probe connection would be a client the daemon
        /// sees); nil when no socket is bound there in this network namespace.
        /// bind makes the file, listen comes after: a connect in between is
        /// refused.
        static func unixSocketListens(at path: String) -> Bool? {
            guard let table = try? String(contentsOfFile: "/proc/net/unix", encoding: .utf8) else { return nil }
            var bound = false
            // Num RefCount Protocol Flags Type St Inode Path
            for line in table.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", maxSplits: 7, omittingEmptySubsequences: true)
                guard fields.count == 8, fields[7] == path, let flags = Int(fields[3], radix: 16) else { continue }
                if flags & 0x10000 != 0 { return true }  // __SO_ACCEPTCON: listen() was called
                bound = true
            }
            return bound ? false : nil
        }

        /// When the process started, in clock ticks since boot (field 22 of
        /// /proc/PID/stat): with the pid, who it is, so a pid the kernel gave
        /// to a new process (other builds share the machine) is not taken for
        /// the one a test saw. nil when gone.
        static func startTime(of pid: Int32) -> UInt64? {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = text.lastIndex(of: ")") else { return nil }
            let fields = text[text.index(after: close)...].split(separator: " ")
            return fields.count > 19 ? UInt64(fields[19]) : nil  // fields[0] is field 3, the state
        }

        /// Whether `pid` is alive and still the process that started at `startTime`.
        static func isAlive(_ pid: Int32, startedAt startTime: UInt64?) -> Bool {
            isAlive(pid) && Self.startTime(of: pid) == startTime
        }

        /// The one-letter state from /proc/PID/stat (R, S, D, Z, ...), nil when gone.
        static func state(of pid: Int32) -> Character? {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = text.lastIndex(of: ")") else { return nil }
            return text[text.index(after: close)...].first { $0 != " " }
        }

        /// Running, sleeping or stopped; a zombie has already died.
        static func isAlive(_ pid: Int32) -> Bool {
            guard let state = state(of: pid) else { return false }
            return state != "Z" && state != "X"
        }

        /// Parent pid from /proc/PID/stat.
        static func parent(of pid: Int32) -> Int32? {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = text.lastIndex(of: ")") else { return nil }
            let fields = text[text.index(after: close)...].split(separator: " ")
            return fields.count > 1 ? Int32(fields[1]) : nil
        }

        /// Every live process whose environment has `key=value`: how the tests
        /// find whatever one daemon under test (and its children's children)
        /// started, without touching anyone else's processes.
        static func livePids(withEnvironment key: String, equalTo value: String) -> [Int32] {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            return entries.compactMap(Int32.init).filter { pid in
                pid != getpid() && environment(of: pid)[key] == value && isAlive(pid)
            }.sorted()
        }

        static func commandLine(of pid: Int32) -> String {
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return "" }
            return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
        }

        /// Whether the process has `signal` set to SIG_IGN (SigIgn in /proc/PID/status).
        static func ignores(_ signal: Int32, pid: Int32) -> Bool {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                  let line = text.split(separator: "\n").first(where: { $0.hasPrefix("SigIgn:") }),
                  let mask = UInt64(line.dropFirst("SigIgn:".count).trimmingCharacters(in: .whitespaces), radix: 16)
            else { return false }
            return mask & (1 << UInt64(signal - 1)) != 0
        }

        /// Whether `signal` is pending for the process (sent, not yet
        /// delivered: the process is stopped or blocks it).
        static func hasPending(_ signal: Int32, pid: Int32) -> Bool {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
            return text.split(separator: "\n").contains { line in
                guard line.hasPrefix("ShdPnd:") || line.hasPrefix("SigPnd:"),
                      let mask = UInt64(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces), radix: 16)
                else { return false }
                return mask & (1 << UInt64(signal - 1)) != 0
            }
        }

        /// How many sockets the process has open.
        static func socketCount(of pid: Int32) -> Int {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            return fds.filter { fd in
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"))?.hasPrefix("socket:") == true
            }.count
        }
    }
}
