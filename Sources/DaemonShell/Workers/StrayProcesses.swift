import SupervisorCore

/// Without cgroups, what a worker left outside its process group — a
/// `setsid` grandchild, re-parented to the master (its subreaper) when
/// its parent exited — is found by the environment it inherited: the
/// worker protocol variables that name the master, the slot and the
/// generation (`mark`). A program that clears its environment before it
/// forks hides from this; a cgroup (`WorkerCgroup`) is the complete answer.
enum StrayProcesses {
    /// The environment entries every process a worker starts inherits.
    static func mark(masterPid: Int32, order: SpawnOrder) -> [String] {
        ["APP_MASTER_PID=\(masterPid)", "APP_GROUP=\(order.worker.group)", "APP_WORKER_ID=\(order.worker.id)",
         "APP_WORKER_GENERATION=\(order.generation)"]
    }

    /// The master's children, but those in `excluding`, that carry `mark`.
    static func find(mark: [String], excluding: Set<Int32>) -> [Int32] {
        var reader = ProcFileReader(capacity: 4096)
        return ProcessControl.children().filter { pid in
            guard !excluding.contains(pid) else { return false }
            let entries = reader.withContents(ofFile: "/proc/\(pid)/environ") { bytes in
                Set(bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) })
            }
            return entries.map { mark.allSatisfy($0.contains) } ?? false
        }
    }
}
