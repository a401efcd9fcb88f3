import SupervisorCore

/// The slots one snapshot covers, fixed when it started, and how far it
/// got: the resumable part of a status or metrics snapshot. Each turn takes
/// the next slots as they are then (a slot that went meanwhile, by
/// scale-down or reload, is skipped), so the figures are as fresh as the
/// turn that sampled them.
struct SlotWalk {
    private let slots: [(group: String, id: Int)]
    private var cursor = 0
    /// The TCP table, read once per snapshot by its first slice with a socket.
    var round = WorkerStatsCollector.Round()

    /// Every slot of `group`, or of every group.
    init(group: String?, supervisor: Supervisor) {
        slots = supervisor.groups.filter { group == nil || $0.name == group }
            .flatMap { workerGroup in workerGroup.slots.map { (workerGroup.name, $0.id) } }
    }

    var isFinished: Bool { cursor == slots.count }

    /// Up to `limit` of the next slots that still exist.
    mutating func nextSlots(limit: Int, in supervisor: Supervisor) -> [(group: String, slot: WorkerSlot)] {
        let end = min(cursor + limit, slots.count)
        defer { cursor = end }
        var found: [(group: String, slot: WorkerSlot)] = []
        var current: WorkerGroup?
        for (group, id) in slots[cursor..<end] {
            if current?.name != group { current = supervisor.group(named: group) }
            guard let slots = current?.slots else { continue }
            // Slot ids are their index while the group is not being shrunk.
            if slots.indices.contains(id), slots[id].id == id {
                found.append((group, slots[id]))
            } else if let slot = slots.first(where: { $0.id == id }) {
                found.append((group, slot))
            }
        }
        return found
    }
}
