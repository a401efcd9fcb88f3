import Foundation
import Testing

extension EndToEnd {
    /// A real Prometheus exposition parser, to check appd's text with:
    /// `promtool check metrics` (Prometheus' own linter and parser), else
    /// the `prometheus_client` parser. scripts/install-test-runtimes.sh puts
    /// them where this looks (scripts/test.sh runs it first): promtool in
    /// .build/test-tools when it is not on PATH, prometheus_client in
    /// .build/recipe-venv.
    enum PrometheusParser: Sendable, CustomStringConvertible {
        case promtool(String)
        case python(String)

        /// The package's root: this file is Tests/AppdTests/EndToEnd/Support/….
        static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

        static let installed: PrometheusParser? = {
            let onPath = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/promtool" }
            if let promtool = (onPath + [root + "/.build/test-tools/promtool"]).first(where: FileManager.default.isExecutableFile) {
                return .promtool(promtool)
            }
            let venv = root + "/.build/recipe-venv"
            let libraries = (try? FileManager.default.contentsOfDirectory(atPath: venv + "/lib")) ?? []
            let hasClient = libraries.contains { FileManager.default.fileExists(atPath: "\(venv)/lib/\($0)/site-packages/prometheus_client/parser.py") }
            return hasClient ? .python(venv + "/bin/python") : nil
        }()

        static let missing = "no Prometheus parser: promtool is neither on PATH nor in .build/test-tools, and prometheus_client is not in "
            + ".build/recipe-venv; scripts/install-test-runtimes.sh installs them (scripts/test.sh runs it first)"

        var description: String {
            switch self {
            case .promtool(let path): "promtool (\(path))"
            case .python(let path): "prometheus_client (\(path))"
            }
        }

        /// Reads every line of `text` as Prometheus does; nil when it all
        /// parses (and, with promtool, lints clean), else what was wrong.
        func problems(in text: String, directory: TemporaryDirectory) async throws -> String? {
            let input = directory.file("exposition-\(UUID().uuidString.prefix(8)).txt")
            try text.write(toFile: input, atomically: true, encoding: .utf8)
            let result: CommandResult
            switch self {
            case .promtool(let path):
                result = try await CommandRunner.run("/bin/sh", ["-c", "exec \"$0\" check metrics < \"$1\"", path, input],
                                                     environment: ProcessInfo.processInfo.environment, in: directory)
            case .python(let path):
                let script = """
                    import sys
                    from prometheus_client.parser import text_string_to_metric_families
                    families = list(text_string_to_metric_families(open(sys.argv[1]).read()))
                    print(sum(len(f.samples) for f in families), "samples in", len(families), "families")
                    """
                result = try await CommandRunner.run(path, ["-c", script, input], environment: ProcessInfo.processInfo.environment,
                                                     in: directory)
            }
            return result.exited(0) && result.stderr.isEmpty ? nil : "\(self): \(result)"
        }
    }
}
