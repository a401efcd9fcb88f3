extension ControlResult {
    /// The `result` object of a `done` line, for `ControlReply.readByHand`:
    /// every member optional (absent or null is nil, as `decodeIfPresent`
    /// reads it), unknown members skipped; nil for an ill-typed member.
    /// Every member of `ControlResult` must be read here: one skipped would
    /// be missing from what appctl prints (the test reads a result with
    /// every member set).
    static func read(from reader: inout JSONReader) -> ControlResult? {
        var result = ControlResult()
        let complete = reader.readObject { reader, key in
            switch key {
            case "pong": return reader.read(optional: &result.pong) { $0.readBool() }
            case "version": return reader.read(optional: &result.version) { $0.readString() }
            case "protocol": return reader.read(optional: &result.protocolVersion) { $0.readInteger(Int.self) }
            case "processes": return reader.read(optional: &result.processes) { $0.readInteger(Int.self) }
            case "connections": return reader.read(optional: &result.connections) { $0.readInteger(Int.self) }
            case "groups": return reader.read(optional: &result.groups) { $0.readInteger(Int.self) }
            case "stopped": return reader.read(optional: &result.stopped) { $0.readString() }
            case "stopping": return reader.read(optional: &result.stopping) { $0.readBool() }
            case "started": return reader.read(optional: &result.started) { $0.readString() }
            case "group": return reader.read(optional: &result.group) { $0.readString() }
            case "count": return reader.read(optional: &result.count) { $0.readInteger(Int.self) }
            case "signalled": return reader.read(optional: &result.signalled) { $0.readInteger(Int.self) }
            case "lines": return reader.read(optional: &result.lines) { $0.readInteger(Int.self) }
            case "reopened": return reader.read(optional: &result.reopened) { $0.readInteger(Int.self) }
            case "healthy": return reader.read(optional: &result.healthy) { $0.readBool() }
            case "summary": return reader.read(optional: &result.summary) { $0.readString() }
            case "problems": return reader.read(optional: &result.problems) { reader in
                var problems: [String] = []
                let complete = reader.readArray { reader in
                    guard let problem = reader.readString() else { return false }
                    problems.append(problem)
                    return true
                }
                return complete ? problems : nil
            }
            case "bytes": return reader.read(optional: &result.bytes) { $0.readInteger(Int.self) }
            default: return reader.skipValue()
            }
        }
        return complete ? result : nil
    }
}
