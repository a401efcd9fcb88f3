import Foundation
import Glibc

extension EndToEnd {
    /// Whether this run checks the latency bounds of the tests that measure
    /// how fast appd answers under load.
    ///
    /// `scripts/sanitizers.sh` exports `APPD_SANITIZER` (`address`, `thread`
    /// or `undefined`) and builds these tests, appd, appctl and demo-worker
    /// with that sanitizer. AddressSanitizer and ThreadSanitizer instrument
    /// every Swift and C target and make appd several times slower: during
    /// the restart storm the median ping was 0.33 s under ASan and 0.13 s
    /// under TSan, against a bound of 0.1 s. A latency bound would then
    /// measure the sanitizer, not appd, so under those two (and only those)
    /// the bounds are not checked: the test prints what it measured and says
    /// so. The same goes for what only the master's speed decides: whether
    /// a restart storm passes the limit that holds its restarts back (the
    /// hold is still checked whenever the storm did pass it). Everything
    /// else those tests check still is (each ping answered within its
    /// timeout, no request failed, SIGTERM stopping everything within
    /// stopTimeout, nothing left behind). UBSan instruments only the C
    /// target (CSystem), so under it the bounds are checked as in a plain
    /// `swift test`.
    ///
    /// The variable alone cannot turn a bound off: the sanitizer's runtime
    /// must be in this test process too, so a stray `APPD_SANITIZER` in a
    /// normal run changes nothing.
    enum LatencyBounds {
        /// The sanitizer that slows this run down, or nil when the bounds are checked.
        static let slowingSanitizer: String? = {
            guard let name = ProcessInfo.processInfo.environment["APPD_SANITIZER"] else { return nil }
            let runtimeSymbol: String
            switch name {
            case "address": runtimeSymbol = "__asan_init"
            case "thread": runtimeSymbol = "__tsan_init"
            default: return nil
            }
            guard isLinkedIn(runtimeSymbol) else {
                print("APPD_SANITIZER=\(name), but this test process has no \(runtimeSymbol): latency bounds are checked")
                return nil
            }
            return name
        }()

        /// True when the bounds are to be checked. Otherwise prints, for the
        /// test's log, what was measured and that it was not held to a bound.
        static func checked(_ measured: @autoclosure () -> String, function: String = #function) -> Bool {
            guard let sanitizer = slowingSanitizer else { return true }
            print("note: \(function): latency bounds not checked under APPD_SANITIZER=\(sanitizer); measured \(measured())")
            return false
        }

        private static func isLinkedIn(_ symbol: String) -> Bool {
            guard let process = dlopen(nil, RTLD_NOW) else { return false }
            defer { dlclose(process) }
            return dlsym(process, symbol) != nil
        }
    }
}
