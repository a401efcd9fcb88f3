extension ConfigLoader.Rule where Output == UInt64 {
    /// A size in bytes: a whole number, or a string like "512M" (`ByteSize`).
    /// At least 1 MiB: less is a typo (a unit left out), not a limit any
    /// program can run under.
    static var byteSize: Self {
        kind("a number of bytes or a size like \"512M\"") { value in
            switch value {
            case .number(let number) where number.rounded() == number && number >= 0 && number < 9_007_199_254_740_992:
                return UInt64(number)
            case .string(let text): return ByteSize.parse(text)
            default: return nil
            }
        }
        .checking({ $0 >= 1 << 20 }, else: { "must be at least 1M (1048576 bytes), got \($0)" })
    }
}

extension ConfigLoader.Rule where Output == CPUQuota {
    /// "50%" or "QUOTA/PERIOD" in microseconds (`CPUQuota`).
    static var cpuQuota: Self {
        kind("a CPU share like \"50%\" or \"QUOTA/PERIOD\" in microseconds (period 1000..1000000, quota 1000 or more)") { value in
            if case .string(let text) = value { CPUQuota(parsing: text) } else { nil }
        }
    }
}

extension ConfigLoader.Validator {
    /// The resource fields of one group (`CgroupLimits`).
    func cgroupLimits(in group: ConfigLoader.Fields) -> CgroupLimits {
        CgroupLimits(
            maxMemory: optional("maxMemory", in: group, .byteSize),
            memoryMax: optional("memoryMax", in: group, .byteSize),
            cpuMax: optional("cpuMax", in: group, .cpuQuota),
            pidsMax: optional("pidsMax", in: group, .integer.atLeast(1).atMost(4_194_304)))
    }
}
