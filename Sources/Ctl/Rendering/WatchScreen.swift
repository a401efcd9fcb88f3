import Glibc

/// Shows `status --watch` frames.
///
/// On a terminal each frame is drawn over the previous one: cursor home,
/// every line cleared to its end as it is written, the rest of the screen
/// cleared after it, all in one `write`. Nothing is blanked before drawing,
/// so there is no flicker, unlike clearing the screen and then drawing. The
/// cursor is hidden meanwhile and shown again on Ctrl-C (or TERM/HUP), which
/// is the normal way out of a watch. Elsewhere (a pipe, a file) frames are
/// simply written one after another, separated by a blank line.
struct WatchScreen {
    let sink: any TextSink
    let redrawsInPlace: Bool

    private static let escape = "\u{1B}["

    /// Makes Ctrl-C the clean way out of every watch (exit 0), then, on a
    /// terminal, hides the cursor and clears the screen once, before the
    /// first frame.
    func begin() {
        guard redrawsInPlace else {
            Self.exitOnSignal()
            return
        }
        Self.restoreCursorOnExit()
        sink.write(Self.escape + "?25l" + Self.escape + "H" + Self.escape + "2J")
    }

    func draw(_ frame: String) {
        guard redrawsInPlace else {
            sink.write(frame + "\n")
            return
        }
        var screen = Self.escape + "H"
        for line in frame.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            screen += line + Self.escape + "K\n"
        }
        sink.write(screen + Self.escape + "J")
    }

    /// Shows the cursor again when the watch ends without a signal.
    func end() {
        guard redrawsInPlace else { return }
        sink.write(Self.escape + "?25h")
    }

    /// The handler may only make async-signal-safe calls: one `write` of a
    /// static string (no allocation), then `_exit`. Ctrl-C ends a watch
    /// successfully; TERM and HUP exit as killed by their signal would.
    /// The same exits, with nothing to restore (frames written to a pipe,
    /// or `--watch --json`).
    private static func exitOnSignal() {
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber) { received in _exit(received == SIGINT ? 0 : 128 + received) }
        }
    }

    private static func restoreCursorOnExit() {
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber) { received in
                let showCursor: StaticString = "\u{1B}[?25h\n"
                _ = write(STDOUT_FILENO, showCursor.utf8Start, showCursor.utf8CodeUnitCount)
                _exit(received == SIGINT ? 0 : 128 + received)
            }
        }
    }
}
