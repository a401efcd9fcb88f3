extension ControlReply {
    /// A reply line read by hand (`JSONReader`): a `process` item, the line
    /// a `status` sends once per worker (a thousand for appctl to read at a
    /// thousand workers), or a `done` line, the one every command ends with.
    /// nil for every other line (other items, errors), and for any line with
    /// something the reader leaves to the decoder; the Codable path then
    /// reads it, or says why it cannot. Where this returns a reply, it is
    /// the one the decoder returns, which a test and the protocol fuzz
    /// target check.
    static func readByHand(line: UnsafeBufferPointer<UInt8>) -> ControlReply? {
        var reader = JSONReader(line)
        var id: Int?
        var ok = false
        var done = false
        var process: ProcessStatus?
        var result: ControlResult?
        let read = reader.readObject { reader, key in
            switch key {
            case "id":
                id = reader.readNull() ? nil : reader.readInteger(Int.self)
                return id != nil
            case "ok":
                ok = reader.readBool() ?? false
                return ok  // an error: the decoder reads those
            case "done":
                if reader.readNull() { return true }
                guard let flag = reader.readBool() else { return false }
                done = flag
                return true
            case "item":
                process = ProcessStatus.read(itemFrom: &reader)
                return process != nil
            case "result":
                if reader.readNull() { return true }
                result = ControlResult.read(from: &reader)
                return result != nil
            default:
                return reader.skipValue()
            }
        }
        guard read, reader.isAtEnd(), let id, ok else { return nil }
        if done { return .done(id: id, result ?? ControlResult()) }
        return process.map { .item(id: id, .process($0)) }
    }
}
