import Foundation
import Glibc
import Testing

extension EndToEnd {
    /// What systemd (a fake one: a datagram socket given as NOTIFY_SOCKET)
    /// and an exec probe (`appctl health`) are told about a real daemon.
    @Suite("telling the service manager the truth")
    struct ServiceManagerEndToEndTests {
        @Test("NOTIFY_SOCKET hears READY=1 only once the slow group is ready, RELOADING=1 then READY=1 around a reload, STOPPING=1 at stop")
        func readinessReloadAndStopAreToldInOrder() async throws {
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "fast", command: Commands.sleepForever, count: 1, readiness: GroupSpec.Readiness.none),
                GroupSpec(name: "slow", command: Commands.sleepForever, count: 1, readiness: .afterSeconds(1.5)),
            ])
            try await withDaemon(spec, start: false) { daemon in
                let systemd = try FakeServiceManager(path: daemon.directory.path + "/systemd.sock")
                try await daemon.start(extraEnvironment: ["NOTIFY_SOCKET": systemd.path])
                let ready = try await Polling.value(timeout: 10, "READY=1") { systemd.messages.first { $0.hasPrefix("READY=1") } }
                // Asked the moment READY=1 is seen: the slow group is ready by then.
                let slow = try #require(try await StatsCtl.status(daemon).inGroup("slow").first)
                #expect(slow.state == "running", "READY=1 came before slow was ready: \(slow)\n\(systemd.messages)")
                #expect(ready.contains("MAINPID=\(daemon.pid)"), "\(ready)")
                #expect(ready.contains("STATUS=fast 1/1, slow 1/1, 0 backing off"), "\(ready)")
                let beforeReady = systemd.messages.prefix { !$0.hasPrefix("READY=1") }
                #expect(beforeReady.allSatisfy { $0.hasPrefix("STATUS=starting: ") }, "\(beforeReady)")

                let reload = try await daemon.appctl("reload")
                #expect(reload.exited(0), "\(reload)")
                let afterReload = try await Polling.value(timeout: 10, "READY=1 after RELOADING=1") { () -> [String]? in
                    let messages = systemd.messages
                    guard let reloading = messages.firstIndex(where: { $0.hasPrefix("RELOADING=1") }),
                          messages[reloading...].contains(where: { $0.hasPrefix("READY=1") }) else { return nil }
                    return Array(messages[reloading...])
                }
                let usec = afterReload[0].split(separator: "\n").first { $0.hasPrefix("MONOTONIC_USEC=") }
                    .flatMap { UInt64($0.dropFirst("MONOTONIC_USEC=".count)) }
                var now = timespec()
                clock_gettime(CLOCK_MONOTONIC, &now)
                let nowUsec = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
                #expect(usec.map { $0 <= nowUsec && nowUsec - $0 < 60_000_000 } == true, "MONOTONIC_USEC on CLOCK_MONOTONIC: \(afterReload[0])")

                daemon.signal(SIGTERM)
                _ = try await Polling.value(timeout: 10, "STOPPING=1") { systemd.messages.first { $0.hasPrefix("STOPPING=1") } }
                let ended = try await daemon.waitForExit(timeout: 10)
                #expect(ended?.exited == true && ended?.code == 0, "\(String(describing: ended))")
            }
        }

        @Test("appctl health: exit 0 while every group has its count ready, 1 naming the group when it is stopped, 0 again once it is back")
        func healthFollowsTheGroups() async throws {
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "web", command: Commands.sleepForever, count: 2, readiness: GroupSpec.Readiness.none),
            ])
            try await withDaemon(spec) { daemon in
                let healthy = try await StatsPolling.value(timeout: 10, "healthy", context: { daemon.diagnostics }) { () -> CommandResult? in
                    let result = try await daemon.appctl("health")
                    return result.exited(0) ? result : nil
                }
                #expect(healthy.stdout == "healthy: web 2/2, 0 backing off\n", "\(healthy)")

                #expect(try await daemon.appctl("stop", "--group", "web").exited(0))
                let down = try await daemon.appctl("health")
                #expect(down.exited(1) && down.stdout.hasPrefix("unhealthy: web 0/2") && down.stdout.contains("web is stopped"), "\(down)")
                let json = try await daemon.appctl("health", "--json")
                #expect(json.exited(1) && json.stdout.contains(#""healthy":false"#), "\(json)")

                #expect(try await daemon.appctl("start", "web").exited(0))
                _ = try await StatsPolling.value(timeout: 10, "healthy again", context: { daemon.diagnostics }) { () -> CommandResult? in
                    let result = try await daemon.appctl("health")
                    return result.exited(0) ? result : nil
                }
            }
        }
    }
}
