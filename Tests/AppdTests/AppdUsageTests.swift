import Testing
@testable import appd
@testable import DaemonShell
import Shared

/// appd's own command line: a mistake is one line and a hint, not the whole help.
@Suite struct AppdUsageTests {
    @Test func appdUsageErrorsAreOneLineWithAHint() {
        func rendered(_ arguments: [String]) -> String? {
            do {
                _ = try DaemonOptions.parse(arguments)
                return nil
            } catch {
                return error.rendered
            }
        }
        #expect(rendered(["--confg", "a.json"]) == "appd: unknown argument '--confg' (did you mean '--config'?); see 'appd --help'\n")
        #expect(rendered(["--config"]) == "appd: --config needs a value; see 'appd --help'\n")
        #expect(rendered(["serve"]) == "appd: unknown argument 'serve'; see 'appd --help'\n")
        #expect(rendered(["--pid-file=x"]) == "appd: unknown argument '--pid-file=x' (did you mean '--pid-file'?); see 'appd --help'\n")
    }
}
