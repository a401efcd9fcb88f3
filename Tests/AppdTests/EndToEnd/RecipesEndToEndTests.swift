import Foundation
import Glibc
import Shared
import Testing

extension EndToEnd {
    /// The recipes of docs/WORKERS.md, as they are written there, with the
    /// real servers under a real appd: through two `appctl reload`s under
    /// load, no request fails and the new server answers at the end.
    ///
    /// What runs is taken from the page: every block after a `<!--
    /// recipe-test: RECIPE FILE -->` comment. `appd.json5` is the group; it
    /// goes into a config of its own (`groups: [ … ]`) with `127.0.0.1:8080`
    /// replaced by a free port, and the other files are written beside it,
    /// in the group's cwd. The runtimes come from `.build/recipe-venv`
    /// (first on appd's PATH) and the PATH: `scripts/install-test-runtimes.sh`
    /// puts them there where it can (`scripts/test.sh` runs it first), and a
    /// test whose runtime is missing is skipped with a message saying so.
    @Suite("the worker recipes of docs/WORKERS.md with the real servers", .serialized)
    struct RecipesEndToEndTests {
        /// The package's root: this file is Tests/AppdTests/EndToEnd/….
        static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
        static let venvBin = root + "/.build/recipe-venv/bin"
        static let document = root + "/docs/WORKERS.md"
        /// The address every recipe is documented with; the tests replace it.
        static let documentedAddress = "127.0.0.1:8080"
        /// The files each recipe test takes from the page.
        static let expectedFiles: [String: Set<String>] = [
            "gunicorn": ["appd.json5", "app.py"],
            "uvicorn": ["appd.json5", "app.py", "serve.py"],
            "node": ["appd.json5", "server.js"],
        ]

        static func installedInVenv(_ program: String) -> Bool {
            FileManager.default.isExecutableFile(atPath: venvBin + "/" + program)
        }

        static let hasGunicorn = installedInVenv("gunicorn")
        static let hasUvicorn = installedInVenv("uvicorn") && installedInVenv("python3")
        static let hasNode = ControlEndToEndTests.executableInPath("node") != nil

        // MARK: - The page

        struct MarkedBlockError: Error, CustomStringConvertible {
            var description: String
        }

        /// `[recipe: [file: text]]` for every block of `text` that follows a
        /// `<!-- recipe-test: RECIPE FILE -->` line; the text is the block's
        /// lines between its fences.
        static func markedBlocks(_ text: String) throws -> [String: [String: String]] {
            let lines = text.components(separatedBy: "\n")
            var blocks: [String: [String: String]] = [:]
            var index = 0
            while index < lines.count {
                defer { index += 1 }
                guard let marker = lines[index].wholeMatch(of: /<!-- recipe-test: (\S+) (\S+) -->/) else { continue }
                let (recipe, file) = (String(marker.1), String(marker.2))
                guard index + 1 < lines.count, lines[index + 1].hasPrefix("```") else {
                    throw MarkedBlockError(description: "docs/WORKERS.md:\(index + 1): the marker for \(recipe) \(file) is not followed by a ``` block")
                }
                guard let end = lines[(index + 2)...].firstIndex(of: "```") else {
                    throw MarkedBlockError(description: "docs/WORKERS.md:\(index + 2): the block for \(recipe) \(file) does not end")
                }
                guard blocks[recipe]?[file] == nil else {
                    throw MarkedBlockError(description: "docs/WORKERS.md:\(index + 1): a second block for \(recipe) \(file)")
                }
                blocks[recipe, default: [:]][file] = lines[(index + 2)..<end].joined(separator: "\n") + "\n"
                index = end
            }
            return blocks
        }

        static func recipeFiles(_ recipe: String) throws -> [String: String] {
            let blocks = try markedBlocks(try String(contentsOfFile: document, encoding: .utf8))
            guard let files = blocks[recipe], Set(files.keys) == expectedFiles[recipe] else {
                throw MarkedBlockError(description: "docs/WORKERS.md marks \(blocks[recipe].map { $0.keys.sorted() } ?? []) for \(recipe); "
                                       + "the test runs \(expectedFiles[recipe]?.sorted() ?? [])")
            }
            return files
        }

        /// The config appd runs: the documented group, on `port`, with the
        /// daemon's files where the test wants them.
        static func config(group: String, port: UInt16, controlSocket: String, pidFile: String, statusFile: String, logFile: String) -> String {
            func quoted(_ path: String) -> String {
                String(decoding: try! JSONSerialization.data(withJSONObject: path, options: [.fragmentsAllowed, .withoutEscapingSlashes]), as: UTF8.self)
            }
            return """
                // written by RecipesEndToEndTests from docs/WORKERS.md
                {
                  controlSocket: \(quoted(controlSocket)),
                  pidFile: \(quoted(pidFile)),
                  statusFile: \(quoted(statusFile)),
                  logFile: \(quoted(logFile)),
                  groups: [
                \(group.replacingOccurrences(of: documentedAddress, with: "127.0.0.1:\(port)"))
                  ],
                }

                """
        }

        @Test("docs/WORKERS.md marks every file the recipe tests run, and each marked group is a valid config on 127.0.0.1:8080")
        func theMarkedBlocksAreThere() throws {
            let scratch = try TemporaryDirectory(prefix: "appd-recipes-")
            for recipe in Self.expectedFiles.keys.sorted() {
                let files = try Self.recipeFiles(recipe)
                let group = try #require(files["appd.json5"])
                #expect(group.components(separatedBy: Self.documentedAddress).count == 2,
                        "the \(recipe) group names \(Self.documentedAddress) once, which the test replaces:\n\(group)")
                let text = Self.config(group: group, port: 8080, controlSocket: scratch.file("ctl.sock"), pidFile: scratch.file("appd.pid"),
                                       statusFile: scratch.file("appd.status"), logFile: scratch.file("appd.log"))
                do {
                    let config = try ConfigLoader.parse(text, sourcePath: scratch.file("appd.json5"))
                    #expect(config.groups.count == 1 && config.groups[0].listen.map(\.description) == ["tcp://127.0.0.1:8080"],
                            "\(recipe): \(config.groups.map(\.listen))")
                } catch {
                    Issue.record("the \(recipe) group of docs/WORKERS.md is not a valid config: \(error)\n\(text)")
                }
            }
        }

        // MARK: - Running a recipe

        /// The pid in a recipe's answer (`hello from pid 4711`).
        static func answeringPid(_ outcome: HTTPProbe.Outcome) -> Int32? {
            guard case .answered(200, let body) = outcome else { return nil }
            return body.firstMatch(of: /pid (\d+)/).flatMap { Int32($0.1) }
        }

        /// A worker and every process under it (gunicorn's workers answer for
        /// its arbiter).
        static func family(of pid: Int32) -> Set<Int32> { Set([pid] + ProcFS.descendants(of: pid)) }

        static func failure(_ outcome: HTTPProbe.Outcome) -> String? {
            switch outcome {
            case .answered(200, _): return nil
            case .answered(let status, _): return "HTTP \(status)"
            case .refused: return "refused"
            case .failed(let why): return why
            }
        }

        /// Runs the recipe's files under appd, loads it from four clients (two
        /// on new connections, two on kept-alive ones) through two reloads, and
        /// checks that no request failed and that the servers changed.
        static func reloadUnderLoad(_ recipe: String) async throws {
            let started = ContinuousClock.now
            let files = try recipeFiles(recipe)
            let groupText = try #require(files["appd.json5"])
            let group = String(try #require(groupText.firstMatch(of: /name: "([^"]+)"/), "the \(recipe) group has a name").1)
            let port = try FreePort.tcp()
            var path = venvBin
            if let inherited = ProcessInfo.processInfo.environment["PATH"] { path += ":" + inherited }
            let daemon = try DaemonUnderTest(DaemonSpec(stopTimeout: 5, groups: []))
            defer { daemon.tearDown() }
            for (file, text) in files where file != "appd.json5" {
                try text.write(toFile: daemon.directory.file(file), atomically: false, encoding: .utf8)
            }
            try daemon.writeConfigText(config(group: groupText, port: port, controlSocket: daemon.controlSocket, pidFile: daemon.pidFile,
                                              statusFile: daemon.statusFile, logFile: daemon.logFile))
            try await daemon.start(extraEnvironment: ["PATH": path])

            let first = try await daemon.waitFor(timeout: 30, "the \(recipe) server to answer on port \(port)") { () -> Int32? in
                guard let worker = daemon.children().inGroup(group).first?.pid,
                      let answering = answeringPid(HTTPProbe.get(port: port)), family(of: worker).contains(answering) else { return nil }
                return worker
            }
            // Ready as appd sees it, so the first reload replaces a process
            // that has started, not one still on its way.
            _ = try await StatsPolling.value(timeout: 30, "group \(group) to be running", context: { daemon.diagnostics }) { () -> Bool? in
                let status = try await ReloadEndToEndTests.status(daemon)
                return ReloadEndToEndTests.group(status, group)?["state"] as? String == "running" ? true : nil
            }
            let oldServers = family(of: first)

            let fresh = HTTPLoad(port: port, clients: 2, keepAlive: false)
            let kept = HTTPLoad(port: port, clients: 2, keepAlive: true)
            fresh.start()
            kept.start()
            var workers = [first]
            do {
                try await daemon.waitUntil("the clients to be under way") { fresh.count >= 20 && kept.count >= 20 }
                for round in 1...2 {
                    let reload = try await daemon.appctl("reload", group, timeout: 30)
                    #expect(reload.exited(0), "reload \(round): \(reload)")
                    #expect(reload.stdout.contains("\(group)#0[\(workers.last!)] → "), "reload \(round) names the process it replaced: \(reload)")
                    let next = try await daemon.waitFor("reload \(round)'s new \(recipe) server alone") { () -> Int32? in
                        let now = daemon.children().inGroup(group)
                        return now.count == 1 && !workers.contains(now[0].pid) ? now[0].pid : nil
                    }
                    workers.append(next)
                }
                let (freshSoFar, keptSoFar) = (fresh.count, kept.count)
                try await daemon.waitUntil("the clients to make more requests after the last reload") {
                    fresh.count >= freshSoFar + 20 && kept.count >= keptSoFar + 20
                }
            } catch {
                _ = try? await (fresh.stop(), kept.stop())
                throw error
            }
            let newServers = family(of: workers.last!)
            let freshSamples = try await fresh.stop()
            let keptSamples = try await kept.stop()
            let samples = freshSamples + keptSamples
            let failed = samples.compactMap { failure($0.outcome) }
            let answeredBy = Set(samples.compactMap { answeringPid($0.outcome) })
            let finalAnswer = try #require(answeringPid(HTTPProbe.get(port: port)), "the \(recipe) server still answers")
            let elapsed = (ContinuousClock.now - started).components
            let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18

            print("recipe \(recipe): workers \(workers.map(String.init).joined(separator: " → ")), \(samples.count) requests "
                  + "(\(freshSamples.count) on new connections, \(keptSamples.count) kept alive), \(failed.count) failed, "
                  + "answered by \(answeredBy.count) pids, slowest \(String(format: "%.3f", samples.map(\.latency).max() ?? 0)) s, "
                  + "\(String(format: "%.1f", seconds)) s")
            #expect(failed.isEmpty, "\(failed.count) of \(samples.count) requests failed through two reloads: \(Set(failed))\n\(daemon.diagnostics)")
            #expect(freshSamples.count >= 40 && keptSamples.count >= 40, "\(freshSamples.count) + \(keptSamples.count) requests")
            #expect(Set(workers).count == 3, "each reload started a new server: \(workers)")
            #expect(workers.dropLast().allSatisfy { !ProcFS.isAlive($0) }, "the old servers have exited: \(workers)")
            #expect(oldServers.isDisjoint(with: newServers), "\(oldServers) \(newServers)")
            #expect(!answeredBy.isDisjoint(with: oldServers), "the clients were answered by the first server \(oldServers): \(answeredBy)")
            #expect(!answeredBy.isDisjoint(with: newServers), "and by the last one \(newServers): \(answeredBy)")
            #expect(newServers.contains(finalAnswer), "the last server answers: pid \(finalAnswer), not in \(newServers)")
        }

        @Test("gunicorn (LISTEN_FDS, READY=1 by itself): two reloads under load, no request fails",
              .enabled(if: hasGunicorn, "gunicorn is not installed in .build/recipe-venv: scripts/install-test-runtimes.sh installs it (scripts/test.sh runs it first)"))
        func gunicorn() async throws {
            try await LoadSensitive.exclusively { try await Self.reloadUnderLoad("gunicorn") }
        }

        @Test("uvicorn (fd 3, the drained launcher): two reloads under load, no request fails",
              .enabled(if: hasUvicorn, "uvicorn is not installed in .build/recipe-venv: scripts/install-test-runtimes.sh installs it (scripts/test.sh runs it first)"))
        func uvicorn() async throws {
            try await LoadSensitive.exclusively { try await Self.reloadUnderLoad("uvicorn") }
        }

        @Test("Node.js (server.listen({fd: 3})): two reloads under load, no request fails",
              .enabled(if: hasNode, "node is not on PATH: scripts/install-test-runtimes.sh installs Debian's nodejs when run as root (scripts/test.sh runs it first)"))
        func node() async throws {
            try await LoadSensitive.exclusively { try await Self.reloadUnderLoad("node") }
        }
    }
}
