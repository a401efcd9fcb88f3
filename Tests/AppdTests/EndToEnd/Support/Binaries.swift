import Foundation

extension EndToEnd {
    /// The executables under test. SwiftPM builds them into the same directory
    /// as the test bundle's executable (`.build*/debug/`), which is what
    /// `/proc/self/exe` points at while the tests run.
    enum Binaries {
        static let directory: String = {
            let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            return (exe as NSString).deletingLastPathComponent
        }()

        static var appd: String { path("appd") }
        static var appctl: String { path("appctl") }
        static var demoWorker: String { path("demo-worker") }

        private static func path(_ name: String) -> String {
            let path = directory + "/" + name
            precondition(FileManager.default.isExecutableFile(atPath: path), "\(name) is not built next to the tests (looked in \(directory))")
            return path
        }
    }
}
