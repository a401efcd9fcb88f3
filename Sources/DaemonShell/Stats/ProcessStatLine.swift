/// The figures appd takes from `/proc/PID/stat`.
///
/// The second field is the command name in parentheses, and that name is
/// whatever the process set (up to 15 bytes): it may hold spaces, `(` and
/// `)`, even a newline. So the fields are counted from the *last* `)` of the
/// line, after which only numbers and the one-letter state follow.
struct ProcessStatLine: Equatable, Sendable {
    /// `R`, `S`, `D`, `Z`, ... (field 3).
    var state: UInt8
    /// Time scheduled in user and kernel mode, in clock ticks (fields 14, 15).
    var userTicks: UInt64
    var systemTicks: UInt64
    /// Field 20.
    var threads: Int
    /// When the process started, in clock ticks after boot (field 22).
    var startTicks: UInt64
    /// Where its program's code starts and ends in memory (fields 26, 27):
    /// new values after an exec, and 1 and 1 while the reader may not look
    /// into the process (ptrace read access: lost when it turns
    /// non-dumpable or changes user). `ProcessSampler` watches them to know
    /// when the fd directory it holds must be opened afresh.
    var codeStart: UInt64
    var codeEnd: UInt64

    var cpuTicks: UInt64 { userTicks + systemTicks }

    init(state: UInt8, userTicks: UInt64, systemTicks: UInt64, threads: Int, startTicks: UInt64, codeStart: UInt64,
         codeEnd: UInt64) {
        self.state = state
        self.userTicks = userTicks
        self.systemTicks = systemTicks
        self.threads = threads
        self.startTicks = startTicks
        self.codeStart = codeStart
        self.codeEnd = codeEnd
    }

    /// nil when the text is not a stat line (truncated, or no `)`).
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> ProcessStatLine? {
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        var cursor = ByteCursor(bytes, at: close + 1)
        cursor.skipBlanks()
        guard !cursor.isAtEnd else { return nil }
        let state = bytes[cursor.index]
        cursor.index += 1
        // Fields 4 (ppid) .. 13 (cmajflt).
        for _ in 4...13 { guard cursor.skipField() else { return nil } }
        guard let user = cursor.decimal(), let system = cursor.decimal() else { return nil }
        // Fields 16 (cutime) .. 19 (nice); cutime..nice may be negative, so skip, not parse.
        for _ in 16...19 { guard cursor.skipField() else { return nil } }
        guard let threads = cursor.decimal() else { return nil }
        guard cursor.skipField(), let start = cursor.decimal() else { return nil }  // 21 itrealvalue, 22 starttime
        // Not field 24 (rss): it is the kernel's per-CPU estimate, off by up
        // to a batch of pages per CPU, while statm's (and VmRSS) is summed.
        for _ in 23...25 { guard cursor.skipField() else { return nil } }  // vsize, rss, rsslim
        guard let codeStart = cursor.decimal(), let codeEnd = cursor.decimal() else { return nil }
        return ProcessStatLine(state: state, userTicks: user, systemTicks: system, threads: Int(threads),
                               startTicks: start, codeStart: codeStart, codeEnd: codeEnd)
    }

    static func parse(_ text: String) -> ProcessStatLine? {
        text.withUTF8Buffer { parse($0) }
    }
}
