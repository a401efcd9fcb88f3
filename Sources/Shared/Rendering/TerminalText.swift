/// Text that came from a worker (or over the socket), made safe to print on
/// an operator's terminal: a worker's `STATUS=`, `APPSTATS`, output line or
/// exit reason could otherwise carry escape sequences that retitle the
/// window (`ESC ] 0 ; … BEL`), clear the screen, move the cursor over other
/// rows, or, on some terminals, write to the clipboard or answer back.
///
/// The rule (docs/SECURITY.md): every control character is spelled out as
/// visible text, so the table stays aligned and nothing reaches the
/// terminal as a command.
/// - C0 controls and DEL as `\xHH` (ESC is `\x1b`, BEL `\x07`), except tab,
///   which is kept, and newline and carriage return, shown as `\n` and `\r`
///   (a value is one line of a table or of `appctl logs`);
/// - C1 controls (U+0080–U+009F, e.g. U+009B, a one-character CSI) and the
///   characters that reorder or isolate text (U+061C, U+200E, U+200F,
///   U+202A–U+202E, U+2066–U+2069: "Trojan Source" spoofing) as `\u{HHHH}`.
///
/// The escaping is for reading, not reversible (a backslash is left as
/// it is); `--json` output carries the exact text.
public enum TerminalText {
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar) else {
                result.unicodeScalars.append(scalar)
                continue
            }
            switch scalar.value {
            case 0x0A: result += "\\n"
            case 0x0D: result += "\\r"
            case ..<0x80: result += "\\x" + hex(scalar.value, digits: 2)
            default: result += "\\u{" + hex(scalar.value, digits: scalar.value > 0xFF ? 4 : 2) + "}"
            }
        }
        return result
    }

    /// Whether printing `scalar` as it is could do more than show a character.
    public static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09: false
        case 0x00..<0x20, 0x7F..<0xA0: true
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}

// MARK: - Escaping what the protocol carries

/// Each of these returns a copy whose every string (names included) is
/// `TerminalText.escaped`, for the tables and lines people read. Numbers
/// are untouched; `--json` uses the originals.
extension StatusReport {
    public func escapedForTerminal() -> StatusReport {
        StatusReport(master: master?.escapedForTerminal(), processes: processes.map { $0.escapedForTerminal() })
    }
}

extension MasterStatus {
    public func escapedForTerminal() -> MasterStatus {
        var copy = self
        copy.version = TerminalText.escaped(version)
        copy.eventLoop = TerminalText.escaped(eventLoop)
        copy.groupSummaries = groupSummaries.map { $0.escapedForTerminal() }
        return copy
    }
}

extension GroupSummary {
    public func escapedForTerminal() -> GroupSummary {
        var copy = self
        copy.name = TerminalText.escaped(name)
        copy.reason = reason.map(TerminalText.escaped)
        copy.listen = listen.map(TerminalText.escaped)
        copy.exits = exits.map { exit in
            var exit = exit
            exit.status = TerminalText.escaped(exit.status)
            exit.description = TerminalText.escaped(exit.description)
            return exit
        }
        return copy
    }
}

extension ProcessStatus {
    public func escapedForTerminal() -> ProcessStatus {
        var copy = self
        copy.group = TerminalText.escaped(group)
        copy.statusText = statusText.map(TerminalText.escaped)
        copy.appStats = appStats?.escapedForTerminal()
        copy.tcp = tcp.map { Dictionary($0.map { (TerminalText.escaped($0.key), $0.value) }, uniquingKeysWith: +) }
        copy.lastExit = lastExit.map { exit in
            var exit = exit
            exit.description = TerminalText.escaped(exit.description)
            exit.status = exit.status.map(TerminalText.escaped)
            return exit
        }
        return copy
    }
}

extension JSONValue {
    /// Strings and member names escaped, all the way down.
    public func escapedForTerminal() -> JSONValue {
        switch self {
        case .null, .bool, .number: self
        case .string(let text): .string(TerminalText.escaped(text))
        case .array(let elements): .array(elements.map { $0.escapedForTerminal() })
        case .object(let members):
            .object(Dictionary(members.map { (TerminalText.escaped($0.key), $0.value.escapedForTerminal()) },
                               uniquingKeysWith: { first, _ in first }))
        }
    }
}

extension LogEntry {
    public func escapedForTerminal() -> LogEntry {
        var copy = self
        copy.group = TerminalText.escaped(group)
        copy.line = TerminalText.escaped(line)
        return copy
    }
}

extension ConnectionEntry {
    public func escapedForTerminal() -> ConnectionEntry {
        var copy = self
        copy.group = TerminalText.escaped(group)
        copy.local = TerminalText.escaped(local)
        copy.remote = TerminalText.escaped(remote)
        copy.state = TerminalText.escaped(state)
        return copy
    }
}

extension ProcessReplaced {
    public func escapedForTerminal() -> ProcessReplaced {
        var copy = self
        copy.group = TerminalText.escaped(group)
        return copy
    }
}

extension GroupReloaded {
    public func escapedForTerminal() -> GroupReloaded {
        var copy = self
        copy.group = TerminalText.escaped(group)
        copy.reason = reason.map(TerminalText.escaped)
        copy.notes = notes?.map(TerminalText.escaped)
        copy.output = output?.map(TerminalText.escaped)
        return copy
    }
}

extension ControlResult {
    public func escapedForTerminal() -> ControlResult {
        var copy = self
        copy.version = version.map(TerminalText.escaped)
        copy.stopped = stopped.map(TerminalText.escaped)
        copy.started = started.map(TerminalText.escaped)
        copy.group = group.map(TerminalText.escaped)
        copy.summary = summary.map(TerminalText.escaped)
        copy.problems = problems?.map(TerminalText.escaped)
        return copy
    }
}

extension ProtocolError {
    public func escapedForTerminal() -> ProtocolError {
        ProtocolError(Code(rawValue: TerminalText.escaped(code.rawValue)), TerminalText.escaped(message))
    }
}
