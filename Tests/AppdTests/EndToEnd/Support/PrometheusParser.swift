import Foundation
import Testing

extension EndToEnd {
    /// A real Prometheus exposition parser, to check appd's text with:
    /// `promtool check metrics` (Prometheus' own linter and parser), else
    /// the `prometheus_client` parser in a project-local venv. When neither
    /// is there, `scripts/install-metrics-parser.sh` is run once (bounded)
    /// to fetch one; nil when that did not help either, and the caller skips.
    enum PrometheusParser: Sendable {
        case promtool(String)
        case python(String)

        static let repository = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path

        static func find(in directory: TemporaryDirectory) async throws -> PrometheusParser? {
            if let found = installed() { return found }
            _ = try await CommandRunner.run("/bin/sh", [repository + "/scripts/install-metrics-parser.sh", "--quiet"],
                                            environment: ProcessInfo.processInfo.environment, in: directory, timeout: 420)
            return installed()
        }

        private static func installed() -> PrometheusParser? {
            let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/promtool" }
            if let promtool = (paths + [repository + "/.build/test-tools/promtool"]).first(where: FileManager.default.isExecutableFile) {
                return .promtool(promtool)
            }
            let python = repository + "/.build/metrics-venv/bin/python"
            return FileManager.default.isExecutableFile(atPath: python) ? .python(python) : nil
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
            return result.exited(0) && result.stderr.isEmpty && !result.stdout.contains("warning") ? nil : "\(self): \(result)"
        }
    }
}
