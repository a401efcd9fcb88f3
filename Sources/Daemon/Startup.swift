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

/// Two pipes per child plus sockets: a thousand workers need more than the
/// usual soft limit of 1024 descriptors, so take the hard limit. Workers get
/// the original back (`Spawner.childOpenFileLimit`): what they run may rely
/// on the usual limit (select(2) breaks on fds above 1023).
func raiseOpenFileLimit() {
    var limit = rlimit()
    let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    let original = limit.rlim_cur
    limit.rlim_cur = limit.rlim_max
    if setrlimit(resource, &limit) == 0 { Spawner.childOpenFileLimit = UInt64(original) }
}

func standardOutput(_ text: String) { _ = try? FileIO.write(STDOUT_FILENO, Array(text.utf8)) }

func standardError(_ text: String) { _ = try? FileIO.write(STDERR_FILENO, Array(text.utf8)) }

func fail(_ message: String) -> Never {
    standardError("appd: \(message)\n")
    exit(1)
}
