import Foundation
import Glibc

extension EndToEnd {
    /// The test's own reading of a process's CPU time and threads from /proc,
    /// to check the master's figures against.
    enum StatsCPUClock {
        struct Sample {
            /// utime + stime, seconds.
            var cpuSeconds: Double
            /// CLOCK_MONOTONIC when read.
            var at: Double

            /// CPU % of one core between `earlier` and this sample.
            func percent(since earlier: Sample) -> Double {
                at > earlier.at ? (cpuSeconds - earlier.cpuSeconds) / (at - earlier.at) * 100 : 0
            }
        }

        static func sample(_ pid: Int32) -> Sample? {
            guard let fields = statFields(pid), fields.count > 12,
                  let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
            return Sample(cpuSeconds: (utime + stime) / ticks, at: Double(now.tv_sec) + Double(now.tv_nsec) / 1e9)
        }

        /// num_threads from /proc/PID/stat.
        static func threads(_ pid: Int32) -> Int? {
            guard let fields = statFields(pid), fields.count > 17 else { return nil }
            return Int(fields[17])
        }

        /// The fields after `(comm)`: state is [0], utime [11], stime [12], num_threads [17].
        private static func statFields(_ pid: Int32) -> [Substring]? {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = text.lastIndex(of: ")") else { return nil }
            return text[text.index(after: close)...].split(separator: " ")
        }
    }
}
