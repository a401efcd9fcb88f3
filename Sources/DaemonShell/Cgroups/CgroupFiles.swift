import Glibc

/// Reads and writes of cgroup interface files: small, by path, whole.
/// Each write is one `write` call, as the kernel parses one value per call.
enum CgroupFiles {
    static func write(_ text: String, to path: String) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .last("open(\(path))") }
        defer { FileIO.close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { raw in retryingInterrupts { Glibc.write(fd, raw.baseAddress, raw.count) } }
        if written != bytes.count { throw .last("write(\(path), \"\(text)\")") }
    }

    /// The whole file, or nil when it cannot be read (a controller's file
    /// that does not exist, a cgroup already removed).
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { FileIO.close(fd) }
        var text: [UInt8] = []
        while true {
            switch FileIO.read(fd, max: 16 * 1024) {
            case .bytes(let chunk): text += chunk
            case .endOfFile: return String(decoding: text, as: UTF8.self)
            case .wouldBlock, .failed: return nil
            }
        }
    }

    /// `exclusive`: one that exists already is an error, not a success.
    static func makeDirectory(_ path: String, exclusive: Bool = false) throws(SystemError) {
        if mkdir(path, 0o755) != 0, exclusive || errno != EEXIST { throw .last("mkdir(\(path))") }
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// The pids in a cgroup (its cgroup.procs), in the kernel's order.
    static func processes(in directory: String) -> [Int32] {
        (read(directory + "/cgroup.procs") ?? "").split(separator: "\n").compactMap { Int32($0) }
    }

    /// The value of one "KEY VALUE" line (cgroup.events, cpu.stat).
    static func keyedValue(_ key: String, in text: String) -> UInt64? {
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == key { return UInt64(parts[1]) }
        }
        return nil
    }
}
