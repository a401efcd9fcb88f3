import Glibc
import Shared
import SupervisorCore

/// `--config FILE`, else `./appd.json` if present, else the embedded demo,
/// whose workers are the `demo-worker` built next to `appd`.
func loadConfig(_ options: DaemonOptions, currentDirectory: String) throws(ConfigError) -> DaemonConfig {
    if let path = options.configPath {
        return try ConfigLoader.load(path: path.hasPrefix("/") ? path : currentDirectory + "/" + path)
    }
    let local = currentDirectory + "/appd.json"
    if access(local, F_OK) == 0 { return try ConfigLoader.load(path: local) }
    return try DemoConfig.make(workerExecutable: executableDirectory() + "/demo-worker")
}

func executableDirectory() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard length > 0 else { return "." }
    let path = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
}

func workingDirectory() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    guard getcwd(&buffer, buffer.count) != nil else { return "/" }
    let length = buffer.firstIndex(of: 0) ?? buffer.count
    return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func standardOutput(_ text: String) { writeAll(STDOUT_FILENO, text) }

func standardError(_ text: String) { writeAll(STDERR_FILENO, text) }

/// The whole text, however the terminal or pipe takes it in pieces.
private func writeAll(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if written < 0, errno == EINTR { continue }
        guard written > 0 else { return }
        bytes = bytes.dropFirst(written)
    }
}

func fail(_ message: String) -> Never {
    standardError("appd: \(message)\n")
    exit(1)
}
