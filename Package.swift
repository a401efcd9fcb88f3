// swift-tools-version:6.0
import PackageDescription

/// appd depends on nothing but the toolchain: Foundation, Dispatch, Glibc,
/// Synchronization and the test libraries. What Swift cannot reach in glibc
/// (signalfd, epoll, prctl, SO_PEERCRED, an async-signal-safe fork/exec)
/// lives in the small `CSystem` target.
let package = Package(
    name: "appd",
    products: [
        .executable(name: "appd", targets: ["appd"]),
        .executable(name: "appctl", targets: ["appctl"]),
        .executable(name: "demo-worker", targets: ["demo-worker"]),
    ],
    targets: [
        .target(name: "CSystem", path: "Sources/CSystem", cSettings: [.define("_GNU_SOURCE")]),
        .target(name: "Shared", path: "Sources/Shared"),
        // The pure supervisor core: every decision about processes, no
        // system call. It depends on Shared alone, so it cannot reach
        // CSystem, and the shell can read its state but not write it.
        .target(name: "SupervisorCore", dependencies: ["Shared"], path: "Sources/SupervisorCore"),
        // The I/O shell: the parts that carry out the core's effects (event
        // loop, control server, worker I/O, status service) and the Daemon
        // that coordinates them. It reads the core's state; only the core's
        // own events and requests change it.
        .target(name: "DaemonShell", dependencies: ["SupervisorCore", "Shared", "CSystem"], path: "Sources/DaemonShell"),
        // appd is its command line and nothing more. It depends on
        // demo-worker only so that `swift run appd` builds the demo it runs.
        .executableTarget(name: "appd", dependencies: ["DaemonShell", "Shared", "demo-worker"], path: "Sources/Daemon"),
        .executableTarget(name: "appctl", dependencies: ["Shared", "CSystem"], path: "Sources/Ctl"),
        .executableTarget(name: "demo-worker", path: "Sources/DemoWorker"),
        .testTarget(
            name: "AppdTests",
            dependencies: ["appd", "DaemonShell", "appctl", "demo-worker", "Shared", "SupervisorCore"],
            path: "Tests/AppdTests"
        ),
    ]
)
