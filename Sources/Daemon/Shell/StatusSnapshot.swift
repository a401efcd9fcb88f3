import Shared

/// A point-in-time view of every slot, built from the core's state for the
/// status file and the `status` command alike, so both show the same figures.
struct StatusSnapshot {
    struct Process {
        var worker: WorkerRef
        var pid: Int32?
        var state: String
        var uptime: Double?
        var restarts: Int
        var lastExit: LastExit?
        var backoffRemaining: Double?
    }

    struct Group {
        var name: String
        var count: Int
        var state: String
        var reloadable: Bool
        var listen: [ListenAddress]
        var exits: ExitTally
    }

    var groups: [Group]
    var processes: [Process]

    init(_ supervisor: Supervisor, now: MonotonicInstant) {
        groups = supervisor.groups.map { group in
            let state = group.reload != nil ? "reloading" : (group.wantsRunning ? "running" : "stopped")
            return Group(name: group.name, count: group.config.count, state: state, reloadable: group.config.reloadable,
                         listen: group.config.listen, exits: group.exits)
        }
        processes = supervisor.groups.flatMap { group in
            group.slots.map { slot in
                var row = Process(worker: WorkerRef(group: group.name, id: slot.id), pid: nil, state: "stopped",
                                  uptime: nil, restarts: slot.restarts, lastExit: slot.lastExit)
                switch slot.state {
                case .empty, .spawning:
                    break
                case .backingOff(let until):
                    row.state = "backoff"
                    row.backoffRemaining = until.seconds(since: now)
                case .live(let process):
                    row.pid = process.pid
                    row.uptime = now.seconds(since: process.startedAt)
                    switch process.phase {
                    case .starting: row.state = "starting"
                    case .running: row.state = "running"
                    case .stopping: row.state = "stopping"
                    }
                }
                return row
            }
        }
    }
}
