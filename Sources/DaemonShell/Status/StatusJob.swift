import SupervisorCore

/// One status snapshot in progress: the slots it covers, fixed when it
/// started, and how far it got. Each turn takes the next slots as they are
/// then (a slot that went meanwhile, by scale-down or reload, is skipped),
/// so the rows are as fresh as the turn that sampled them.
struct StatusJob {
    /// Who gets the snapshot: a one-shot `status` ends with `done`, a
    /// `--watch` tick with a `snapshotEnd` item.
    struct Recipient: Equatable {
        var client: Int32
        var request: Int
        var streaming: Bool
    }

    let group: String?
    let recipients: [Recipient]
    private let slots: [(group: String, id: Int)]
    private var cursor = 0
    /// The TCP table, read once per snapshot by its first slice with a socket.
    var round = WorkerStatsCollector.Round()
    /// Rows sent so far, for the end marker.
    var sent = 0

    init(group: String?, recipients: [Recipient], supervisor: Supervisor) {
        self.group = group
        self.recipients = recipients
        slots = supervisor.groups.filter { group == nil || $0.name == group }
            .flatMap { workerGroup in workerGroup.slots.map { (workerGroup.name, $0.id) } }
    }

    var isFinished: Bool { cursor == slots.count }

    /// A `status` without `watch`: it ends with `done`.
    var isOneShot: Bool { !recipients.contains(where: \.streaming) }

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
