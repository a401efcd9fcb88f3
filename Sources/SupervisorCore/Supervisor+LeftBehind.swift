import Shared

/// What a worker leaves in its process group when it exits: a command that
/// forks and exits (`sh -c 'sleep 1000 & exit 0'`), a program that
/// daemonizes, helpers that outlive it.
///
/// The shell stops those members (stop signal, SIGKILL after stopTimeout)
/// and tells the core when the group is empty. Until then the slot's next
/// process is not started: it would run beside what the last one left,
/// bound to the same ports and files, and a crash loop of such a command
/// would pile up one leftover per restart. A stop, scale-down or daemon
/// stop that overtakes the wait is settled once the group is empty too, so
/// `appctl stop` returns only when nothing the group ran is left.
extension Supervisor {
    /// Holds the spawn of slot `id` while a process group its earlier
    /// processes left is not empty; says whether it did.
    mutating func holdSpawnWhileLeftBehind(_ g: Int, _ id: Int) -> Bool {
        let worker = ref(g, id)
        let groupsLeft = leftBehind.values.filter { $0 == worker }.count
        guard groupsLeft > 0 else { return false }
        if heldSpawns.insert(worker).inserted {
            log(.info, about: worker, "starts once the processes its last process left in its process group have stopped")
        }
        return true
    }

    /// A left-behind process group is empty: the slot's held spawn goes
    /// ahead, or is dropped when the slot is no longer wanted.
    mutating func processGroupEmptied(_ pgid: Int32) {
        guard let worker = leftBehind.removeValue(forKey: pgid), !leftBehind.values.contains(worker),
              heldSpawns.remove(worker) != nil else { return }
        guard let g = groupIndex(of: worker), worker.id < groups[g].slots.count,
              groups[g].slots[worker.id].state == .spawning else {
            assertionFailure("\(worker) held a spawn but is not waiting for one")
            return
        }
        if slotWanted(g, worker.id) {
            spawn(g, worker.id)
        } else {
            processSpawnCancelled(worker, .current)
        }
    }
}
