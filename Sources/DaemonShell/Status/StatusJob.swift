import SupervisorCore

/// One status snapshot in progress: who gets it, and the walk over its
/// slots (`SlotWalk`).
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
    var walk: SlotWalk
    /// Rows sent so far, for the end marker.
    var sent = 0

    init(group: String?, recipients: [Recipient], supervisor: Supervisor) {
        self.group = group
        self.recipients = recipients
        walk = SlotWalk(group: group, supervisor: supervisor)
    }

    /// A `status` without `watch`: it ends with `done`.
    var isOneShot: Bool { !recipients.contains(where: \.streaming) }
}
