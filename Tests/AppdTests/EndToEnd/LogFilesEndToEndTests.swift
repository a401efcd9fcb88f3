import Foundation
import Glibc
import Testing

extension EndToEnd {
    /// Operating it: each group's log file rotated by the master, reopened
    /// for an external logrotate, the daemon's own log rotated the same way,
    /// and each group's history, which keeps a crashing group's traceback
    /// however chatty its neighbours, with appd's own lines about a worker
    /// between the worker's.
    @Suite("log files and histories end to end", .serialized)
    struct LogFilesEndToEndTests {
        /// A log file's lines, parsed (`LogLine`), and whether every line parsed
        /// (a line split between files would not).
        static func lines(of path: String) -> (lines: [LogLine], whole: Bool) {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            let lines = LogLine.parse(text)
            return (lines, text.isEmpty || (text.hasSuffix("\n") && lines.count == text.utf8.filter { $0 == UInt8(ascii: "\n") }.count))
        }

        /// Whether a flood that ended with line `last` is all in the file:
        /// its last line is that one, or the marker of lines its writer
        /// dropped at the end (a writer starved of CPU on a loaded machine
        /// drops rather than blocks the master).
        static func settled(_ path: String, last: Int) -> Bool {
            guard let line = lines(of: path).lines.last else { return false }
            return line.message == "\(last)" || line.message.contains(" lines dropped: ")
        }

        /// Waits until the master has read the whole flood (its history has
        /// the last line), then until `file` (when given) has it all.
        static func waitForTheFlood(_ daemon: DaemonUnderTest, group: String, last: Int, file: String?,
                                    sourceLocation: SourceLocation = #_sourceLocation) async throws {
            try await daemon.waitUntil("one worker", sourceLocation: sourceLocation) { daemon.children().contains { $0.group == group } }
            let client = try daemon.controlClient()
            var request = 0
            try await daemon.waitUntil(timeout: 60, "\(group)'s line \(last) in its history", sourceLocation: sourceLocation) {
                request += 1
                try client.send(#"{"id":\#(request),"cmd":"logs","group":"\#(group)","stream":"stdout","lines":1}"#)
                return try client.replies(untilDoneFor: request).contains { $0.item?["line"] as? String == "\(last)" }
            }
            guard let file else { return }
            try await Polling.until(timeout: 30, "the whole flood in \(file)", context: {
                "last line: \(lines(of: file).lines.last.map(\.description) ?? "-")\n" + daemon.diagnostics
            }, sourceLocation: sourceLocation) { settled(file, last: last) }
        }

        static func size(of path: String) -> Int {
            var info = stat()
            return stat(path, &info) == 0 ? Int(info.st_size) : -1
        }

        /// The numbers a worker printed (`seq`, or `tick N`), in the order the
        /// files hold them; a "lines dropped" marker from the log's writer
        /// stands for that many numbers.
        static func numbers(in files: [String], source: String) -> (numbers: [Int], dropped: Int, problems: [String]) {
            var numbers: [Int] = []
            var dropped = 0
            var problems: [String] = []
            for file in files {
                let (lines, whole) = Self.lines(of: file)
                if !whole { problems.append("\(file) has a line that is not whole") }
                for line in lines {
                    if line.level == "stdout", line.source == source, let number = Int(line.message.split(separator: " ").last ?? "") {
                        numbers.append(number)
                    } else if line.level == "warning", line.message.contains(" lines dropped: "),
                              let count = Int(line.message.split(separator: " ")[0]) {
                        dropped += count
                    } else if line.level != "appd" {
                        problems.append("unexpected line in \(file): \(line)")
                    }
                }
            }
            return (numbers, dropped, problems)
        }

        /// `tick 1`, `tick 2`, ... every 50 ms, each line one write.
        static let ticker = ["/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.05; done"]

        @Test("a flooding worker's log file rotates: exactly `keep` copies, each at most maxBytes, no line split, none lost between files")
        func rotationUnderAFlood() async throws {
            try await LoadSensitive.exclusively {
                let total = 200_000
                let (maxBytes, keep) = (65_536, 4)
                let spec = DaemonSpec(groups: [GroupSpec(
                    name: "flood", command: ["/bin/sh", "-c", "seq 1 \(total); exec sleep 1000"], count: 1,
                    outputBytesPerSecond: 0, log: LogSpec(file: "logs/flood.log", maxBytes: maxBytes, keep: keep))])
                try await withDaemon(spec) { daemon in
                    let path = daemon.directory.file("logs/flood.log")
                    try await Self.waitForTheFlood(daemon, group: "flood", last: total, file: path)
                    let worker = try #require(daemon.children().first)
                    let names = try FileManager.default.contentsOfDirectory(atPath: daemon.directory.file("logs")).sorted()
                    #expect(names == ["flood.log"] + (1...keep).map { "flood.log.\($0)" }, "exactly \(keep) rotated copies: \(names)")
                    let files = (1...keep).reversed().map { "\(path).\($0)" } + [path]
                    for file in files {
                        // A line goes whole into one file: at most maxBytes (or one line, were a line longer).
                        #expect(Self.size(of: file) <= maxBytes, "\(file): \(Self.size(of: file)) bytes")
                    }
                    let (numbers, dropped, problems) = Self.numbers(in: files, source: "flood#0[\(worker.pid)]")
                    #expect(problems.isEmpty, "\(problems.prefix(5))")
                    #expect(numbers.count > keep * maxBytes / 200, "\(numbers.count) lines kept")
                    #expect(numbers.last.map { $0 + dropped >= total } == true, "up to the last line, or its drops told")
                    // Oldest first, each number once, every one from the oldest kept to the last: none lost
                    // between files (a drop marker, if the writer ever fell behind, accounts for its gap).
                    let first = try #require(numbers.first)
                    #expect(numbers.count + dropped >= (numbers.last ?? 0) - first + 1 && numbers.count + dropped <= total - first + 1
                                && numbers == numbers.sorted() && Set(numbers).count == numbers.count,
                            "\(numbers.count) lines from \(first), \(dropped) dropped")
                }
            }
        }

        @Test("appctl logs --reopen after an external rename: the lines before go on into the renamed file, the lines after into a new one")
        func reopenAfterAnExternalRename() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "ticker", command: Self.ticker, count: 1,
                                                     log: LogSpec(file: "logs/ticker.log", maxBytes: 0))])
            try await withDaemon(spec) { daemon in
                let path = daemon.directory.file("logs/ticker.log")
                let rotated = path + ".logrotate"
                let worker = try await daemon.waitFor("three ticks in the log file") {
                    daemon.children().first.flatMap { Self.lines(of: path).lines.count >= 4 ? $0 : nil }
                }
                let source = "ticker#0[\(worker.pid)]"
                #expect(rename(path, rotated) == 0)
                let before = Self.numbers(in: [rotated], source: source).numbers.count
                try await daemon.waitUntil("appd to write on into the renamed file, as logrotate expects") {
                    Self.numbers(in: [rotated], source: source).numbers.count > before
                }
                let reopen = try await daemon.appctl("logs", "--reopen")
                #expect(reopen.exited(0) && reopen.stdout == "reopened 2 log files\n", "the daemon's log and ticker's: \(reopen)")
                try await daemon.waitUntil("ticks in a new file at the log's path") {
                    Self.numbers(in: [path], source: source).numbers.count >= 3
                }
                let old = Self.numbers(in: [rotated], source: source)
                let new = Self.numbers(in: [path], source: source)
                #expect(old.problems.isEmpty && new.problems.isEmpty, "\(old.problems) \(new.problems)")
                #expect(old.numbers.first == 1 && new.numbers.first == (old.numbers.last ?? 0) + 1, "none lost or repeated: \(old.numbers.suffix(3)) then \(new.numbers.prefix(3))")
                #expect(old.numbers + new.numbers == Array(1...(new.numbers.last ?? 0)))
                #expect(daemon.log.contains("info: reopened 2 log files, as asked"), "\(daemon.log)")
            }
        }

        @Test("a crash-looping group's traceback is still in appctl logs after a chatty group wrote 100,000 lines")
        func aChattyGroupDoesNotEvictACrashersTraceback() async throws {
            try await LoadSensitive.exclusively {
                let crasher = ["/bin/sh", "-c", "echo 'Traceback (most recent call last):' >&2; echo \"ValueError: boom in $$\" >&2; exit 1"]
                let spec = DaemonSpec(groups: [
                    GroupSpec(name: "crasher", command: crasher, count: 1),
                    GroupSpec(name: "chatty", command: ["/bin/sh", "-c", "sleep 0.5; seq 1 100000; exec sleep 1000"], count: 1,
                              outputBytesPerSecond: 0),
                ])
                try await withDaemon(spec) { daemon in
                    try await Self.waitForTheFlood(daemon, group: "chatty", last: 100_000, file: nil)
                    let logs = try await daemon.appctl("logs", "crasher", "-n", "100000")
                    #expect(logs.exited(0), "\(logs)")
                    let lines = logs.stdoutLines
                    let exit = try #require(lines.firstIndex { $0.contains(" appd: exited 1 after ") }, "\(logs.stdout)")
                    let pid = try #require(lines[exit].split(separator: " ")[1].split(separator: "[").last?.dropLast(), "\(lines[exit])")
                    let traceback = try #require(lines.firstIndex { $0.hasSuffix("crasher#0[\(pid)] stderr: Traceback (most recent call last):") },
                                                 "\(logs.stdout)")
                    let error = try #require(lines.firstIndex { $0.hasSuffix("crasher#0[\(pid)] stderr: ValueError: boom in \(pid)") })
                    #expect(traceback < error && error < exit, "the traceback, then appd's exit line: \(logs.stdout)")
                    #expect(lines.contains { $0.contains("crasher#0 appd: restarts in ") && $0.contains("(backoff after ") }, "\(logs.stdout)")

                    // chatty's own history holds its newest 2000 lines (the default), and only those.
                    let chatty = try await daemon.appctl("logs", "chatty", "--stream", "stdout", "-n", "100000")
                    #expect(chatty.stdoutLines.count == 2000 && chatty.stdoutLines.first?.hasSuffix(" stdout: 98001") == true,
                            "\(chatty.stdoutLines.count) lines, first \(chatty.stdoutLines.first ?? "-")")
                }
            }
        }

        @Test("appctl logs --follow sees appd's own exit line for the worker, after its last words; the group's JSON log file has both")
        func followSeesAppdsExitLine() async throws {
            let short = ["/bin/sh", "-c", "trap 'echo last words; exit 3' TERM; echo hello; while :; do sleep 0.1; done"]
            let spec = DaemonSpec(groups: [GroupSpec(name: "short", command: short, count: 1, readiness: GroupSpec.Readiness.none,
                                                     log: LogSpec(file: "logs/short.json", format: "json"))])
            try await withDaemon(spec) { daemon in
                let worker = try await daemon.waitFor("the worker") { daemon.children().first }
                let label = "short#0[\(worker.pid)]"
                let follower = try daemon.startAppctl("logs", "short", "--follow")
                defer { follower.stop() }
                try await daemon.waitUntil("the follower to print the worker's first line") { follower.stdout.contains("\(label) stdout: hello") }
                kill(worker.pid, SIGTERM)
                try await daemon.waitUntil("the follower to print appd's exit line") { follower.stdout.contains("\(label) appd: exited 3 after ") }
                let printed = follower.stdout.split(separator: "\n").map(String.init)
                let lastWords = try #require(printed.firstIndex { $0.hasSuffix("\(label) stdout: last words") }, "\(printed)")
                let exited = try #require(printed.firstIndex { $0.contains("\(label) appd: exited 3 after ") })
                #expect(printed[0].hasSuffix("\(label) appd: started") && lastWords < exited, "\(printed)")
                #expect(printed[exited].range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "#, options: .regularExpression) != nil,
                        "UTC with a Z: \(printed[exited])")

                let file = daemon.directory.file("logs/short.json")
                let objects = try await daemon.waitFor("appd's exit line in the group's log file") { () -> [[String: Any]]? in
                    let objects = ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n")
                        .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                    return objects.contains { ($0["line"] as? String)?.hasPrefix("exited 3 after ") == true } ? objects : nil
                }
                let ofWorker = objects.filter { ($0["pid"] as? NSNumber)?.int32Value == worker.pid }
                #expect(ofWorker.map { "\($0["stream"] ?? "-") \($0["line"] ?? "-")" }.prefix(3)
                    == ["appd started", "stdout hello", "stdout last words"], "\(ofWorker)")
                #expect(ofWorker.contains { $0["stream"] as? String == "appd" && ($0["line"] as? String)?.hasPrefix("exited 3 after ") == true
                    && $0["group"] as? String == "short" && ($0["id"] as? NSNumber)?.intValue == 0 })
                #expect(ofWorker.allSatisfy { ($0["time"] as? String)?.hasSuffix("Z") == true })
            }
        }

        @Test("a raw log file: what two workers wrote to stdout and stderr, byte for byte, each line whole, rotated at maxBytes; appd's lines stay out of it")
        func aRawLogFileHoldsTheWorkersBytes() async throws {
            // sh's echo writes each line with one write(2), so lines of two processes interleave whole.
            let writer = ["/bin/sh", "-c", "i=1; while [ $i -le 500 ]; do echo \"out $APP_WORKER_ID $i\"; echo \"err $APP_WORKER_ID $i\" >&2; i=$((i+1)); done; "
                + "echo \"done $APP_WORKER_ID\"; exec sleep 1000"]
            let (maxBytes, keep) = (4096, 100)
            let spec = DaemonSpec(groups: [GroupSpec(name: "raw", command: writer, count: 2,
                                                     log: LogSpec(file: "logs/raw.log", maxBytes: maxBytes, keep: keep, format: "raw"))])
            try await withDaemon(spec) { daemon in
                let path = daemon.directory.file("logs/raw.log")
                func kept() -> [String] {
                    let names = (try? FileManager.default.contentsOfDirectory(atPath: daemon.directory.file("logs"))) ?? []
                    let copies = names.compactMap { Int($0.dropFirst("raw.log.".count)) }.sorted(by: >)
                    return copies.map { "\(path).\($0)" } + [path]
                }
                func text() -> String { kept().map { (try? String(contentsOfFile: $0, encoding: .utf8)) ?? "" }.joined() }
                try await daemon.waitUntil("both workers' last lines in the raw file") {
                    text().contains("done 0\n") && text().contains("done 1\n")
                }
                let files = kept()
                #expect(files.count > 3 && files.count <= keep + 1, "rotated: \(files.count) files")
                for file in files.dropLast() {
                    #expect(Self.size(of: file) == maxBytes, "a raw file is cut at exactly maxBytes: \(file) \(Self.size(of: file))")
                }
                let lines = text().split(separator: "\n", omittingEmptySubsequences: false)
                #expect(lines.last == "", "ends with a newline")
                for id in 0..<2 {
                    for stream in ["out", "err"] {
                        let numbers = lines.filter { $0.hasPrefix("\(stream) \(id) ") }.compactMap { Int($0.split(separator: " ").last ?? "") }
                        #expect(numbers == Array(1...500), "\(stream) of worker \(id): every line once, whole, in order (\(numbers.count))")
                    }
                }
                #expect(lines.dropLast().allSatisfy { $0.hasPrefix("out ") || $0.hasPrefix("err ") || $0.hasPrefix("done ") },
                        "nothing but the workers' bytes: \(lines.filter { !$0.hasPrefix("out ") && !$0.hasPrefix("err ") }.prefix(3))")
                // appd's lines about the workers are in its log and the history, not in the raw file.
                let logs = try await daemon.appctl("logs", "raw")
                #expect(logs.exited(0) && logs.stdoutLines.contains { $0.contains("raw#0[") && $0.contains(" appd: started") }, "\(logs)")
                #expect(daemon.log.contains("worker raw#1[") && daemon.log.contains("] started"), "\(daemon.log)")
                let reopen = try await daemon.appctl("logs", "--reopen")
                #expect(reopen.exited(0) && reopen.stdout == "reopened 2 log files\n", "the daemon's log and the raw file: \(reopen)")
                let describe = try await daemon.appctl("describe", "raw")
                #expect(describe.stdout.contains("raw.log: rotated at 4.0 KiB, 100 kept, raw"), "\(describe.stdout)")
            }
        }

        @Test("a reload that turns a group's log from text to raw: the new worker's bytes go in raw after the old worker's stamped lines")
        func aReloadTurnsALogRaw() async throws {
            var spec = DaemonSpec(groups: [GroupSpec(name: "ticker", command: Self.ticker, count: 1,
                                                     log: LogSpec(file: "logs/ticker.log", maxBytes: 0))])
            try await withDaemon(spec) { daemon in
                let path = daemon.directory.file("logs/ticker.log")
                func fileLines() -> [Substring] {
                    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n")
                }
                let old = try await daemon.waitFor("stamped ticks in the log file") {
                    daemon.children().first.flatMap { worker in
                        fileLines().filter { $0.contains(" ticker#0[\(worker.pid)] stdout: tick ") }.count >= 3 ? worker : nil
                    }
                }
                spec.groups[0].log?.format = "raw"
                try daemon.writeConfig(spec)
                let reload = try await daemon.appctl("reload", "ticker", timeout: 15)
                #expect(reload.exited(0), "\(reload)")
                try await daemon.waitUntil("raw ticks after the stamped ones") {
                    fileLines().suffix(3).count == 3 && fileLines().suffix(3).allSatisfy { $0.hasPrefix("tick ") }
                }
                let new = try #require(daemon.children().first { $0.pid != old.pid }, "the reload replaced the worker")
                let lines = fileLines()
                let firstRaw = try #require(lines.firstIndex { $0.hasPrefix("tick ") })
                #expect(lines[..<firstRaw].allSatisfy { $0.contains(" ticker#0[\(old.pid)] ") },
                        "the old worker's lines, stamped, then appd's about it: \(lines[..<firstRaw].suffix(3))")
                // The old worker ticks on until the reload stops it, into appd's log: the group's file is raw now.
                #expect(lines[firstRaw...].allSatisfy { $0.hasPrefix("tick ") && Int($0.dropFirst(5)) != nil },
                        "after them, only the new worker's whole raw lines: \(lines[firstRaw...].prefix(5))")
                let history = try await daemon.appctl("logs", "ticker", "-n", "1000")
                #expect(history.exited(0) && !history.stdout.contains("ticker#0[\(new.pid)] stdout:")
                            && history.stdout.contains("ticker#0[\(new.pid)] appd: started"),
                        "the raw worker's output is not in the history, appd's line about it is: \(history.stdout.suffix(400))")
            }
        }

        @Test("the daemon's own log, logFile in its object form, rotates like a group's")
        func theDaemonsLogRotates() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "chatty", command: ["/bin/sh", "-c", "seq 1 5000; exec sleep 1000"], count: 1,
                                                     outputBytesPerSecond: 0)],
                                  logRotation: (maxBytes: 16_384, keep: 2))
            try await withDaemon(spec) { daemon in
                try await Self.waitForTheFlood(daemon, group: "chatty", last: 5000, file: daemon.logFile)
                let names = try FileManager.default.contentsOfDirectory(atPath: daemon.directory.path).filter { $0.hasPrefix("appd.log") }.sorted()
                #expect(names == ["appd.log", "appd.log.1", "appd.log.2"], "\(names)")
                for name in names {
                    #expect(Self.size(of: daemon.directory.file(name)) <= 16_384)
                    #expect(Self.lines(of: daemon.directory.file(name)).whole, "\(name)")
                }
            }
        }
    }
}
