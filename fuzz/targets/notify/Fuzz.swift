// libFuzzer target: the sd_notify datagram parser of the daemon
// (Sources/DaemonShell/Workers/NotifyMessage.swift, compiled in by scripts/fuzz.sh
// with every Sources/Shared file, its `import Shared` removed).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNotify(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let message = NotifyMessage(datagram: bytes)
    _ = message.problems.map(\.description)
    return 0
}
