import Foundation
import Glibc
import Testing
@testable import appd
@testable import DaemonShell

@Suite struct DaemonLogTests {
    @Test func debugLinesAreWrittenOnlyWhenVerbose() throws {
        var template = Array("/tmp/appd-log-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw SystemError.last("mkdtemp") }
        let directory = String(cString: created)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let quiet = try DaemonLog(config: .unrotated(directory + "/quiet.log"))
        var built = false
        quiet.debug({ built = true; return "not shown" }())
        quiet.info("shown")
        #expect(!built, "a debug message is not even built unless verbose")
        quiet.finish(timeout: 5)
        let quietText = try String(contentsOfFile: directory + "/quiet.log", encoding: .utf8)
        #expect(!quietText.contains("debug") && quietText.contains("info: shown"), "\(quietText)")

        let verbose = try DaemonLog(config: .unrotated(directory + "/verbose.log"), verbose: true)
        verbose.debug("a late datagram")
        verbose.finish(timeout: 5)
        let verboseText = try String(contentsOfFile: directory + "/verbose.log", encoding: .utf8)
        #expect(verboseText.hasSuffix(" appd[\(getpid())] debug: a late datagram\n"), "\(verboseText)")
    }

    @Test func verboseIsAnOption() throws {
        #expect(try DaemonOptions.parse(["--verbose"]) == .run(DaemonOptions(verbose: true)))
        #expect(try DaemonOptions.parse([]) == .run(DaemonOptions()))
    }
}
