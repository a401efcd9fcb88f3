// libFuzzer target: the config loader on arbitrary bytes, and the tolerant
// scan appctl falls back on when a config cannot be used.
// Built by scripts/fuzz.sh with every Sources/Shared file compiled in.
// Any bytes must give a config or a ConfigError; a trap is a finding.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do {
        let config = try ConfigLoader.parse(bytes: bytes, sourcePath: "/nonexistent-appd-fuzz/appd.json")
        _ = ConfigLoader.summary(config)
    } catch {
        // Rendering the problems is part of what a bad file goes through.
        _ = error.description
    }
    _ = ConfigLoader.salvageControlSocket(from: bytes, sourcePath: "/nonexistent-appd-fuzz/appd.json")
    return 0
}
