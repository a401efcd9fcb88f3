extension ProcessStatus {
    /// `{"id":N,"item":{...process...},"ok":true}` and its newline, written by
    /// hand (`JSONText`) because a status of a thousand workers is a thousand
    /// of these. Byte for byte what the Codable path writes, which a test
    /// checks; nil when a figure is not finite, so the caller falls back.
    func replyLine(id: Int) -> [UInt8]? {
        var json = JSONText(capacity: 320)
        return writeReplyLine(id: id, into: &json) ? json.bytes : nil
    }

    /// The same line written at the end of `json`, which holds whole lines
    /// only; false when a figure is not finite, with `json` left part way.
    func writeReplyLine(id: Int, into json: inout JSONText) -> Bool {
        json.beginObject()
        json.key("id")
        json.integer(id)
        json.key("item")
        guard write(into: &json, asItem: true) else { return false }
        json.key("ok")
        json.bool(true)
        json.endObject()
        json.newline()
        return true
    }

    /// The `process` item lines of `rows` for request `id`, one after
    /// another in one buffer: what `encodedLine()` gives for each, without
    /// a buffer per line (a status sends them 32 rows at a time).
    public static func itemLines(_ rows: [ProcessStatus], id: Int) -> [UInt8] {
        var json = JSONText(capacity: rows.count * 256)
        for row in rows {
            let start = json.bytes.count
            if !row.writeReplyLine(id: id, into: &json) {
                json.removeLines(from: start)
                json.raw(ControlReply.item(id: id, .process(row)).encodedLine())
            }
        }
        return json.bytes
    }

    /// The process object, as its Codable encoding writes it (with the
    /// item's `"type": "process"` member when `asItem`). False when a figure
    /// is not finite: the caller falls back to the encoder.
    public func write(into json: inout JSONText, asItem: Bool) -> Bool {
        json.beginObject()
        if let appStats {
            json.key("appStats")
            guard json.value(appStats) else { return false }
        }
        if let backoffRemaining {
            json.key("backoffRemaining")
            guard json.number(backoffRemaining) else { return false }
        }
        if let cpu {
            json.key("cpu")
            guard json.number(cpu) else { return false }
        }
        if let fds {
            json.key("fds")
            json.integer(fds)
        }
        json.key("group")
        json.string(group)
        json.key("id")
        json.integer(self.id)
        json.key("lastExit")
        if let lastExit {
            json.beginObject()
            json.key("at")
            guard json.number(lastExit.at) else { return false }
            json.key("description")
            json.string(lastExit.description)
            if let requested = lastExit.requested {
                json.key("requested")
                json.string(requested)
            }
            json.key("status")
            if let status = lastExit.status { json.string(status) } else { json.null() }
            json.key("uptime")
            guard json.number(lastExit.uptime) else { return false }
            json.endObject()
        } else {
            json.null()
        }
        json.key("pid")
        if let pid { json.integer(pid) } else { json.null() }
        json.key("restarts")
        json.integer(restarts)
        if let rss {
            json.key("rss")
            json.integer(rss)
        }
        json.key("state")
        json.string(state.rawValue)
        if let statusText {
            json.key("statusText")
            json.string(statusText)
        }
        if let tcp {
            json.key("tcp")
            json.beginObject()
            for name in tcp.keys.sorted() {
                json.key(named: name)
                json.integer(tcp[name]!)
            }
            json.endObject()
        }
        if let threads {
            json.key("threads")
            json.integer(threads)
        }
        if asItem {
            json.key("type")
            json.string("process")
        }
        json.key("uptime")
        if let uptime {
            guard json.number(uptime) else { return false }
        } else {
            json.null()
        }
        json.endObject()
        return true
    }
}
