@testable import DaemonShell
import Foundation
import Shared
import Testing

/// The resource settings of a group (`CgroupLimits`), read from a config
/// with field-path errors, and the pure parsers behind cgroups.
@Suite struct ResourceLimitsConfigTests {
    private func parse(_ group: String, top: String = "") throws -> DaemonConfig {
        try ConfigLoader.parse("{\(top) groups: [{name: \"a\", command: [\"x\"], \(group)}]}", sourcePath: "/tmp/appd-limits-test/appd.json")
    }

    private func problems(_ group: String, top: String = "") -> [String] {
        do {
            _ = try parse(group, top: top)
            return []
        } catch let error as ConfigError {
            return error.problems.map { "\($0.fieldPath): \($0.message)" }
        } catch {
            return ["\(error)"]
        }
    }

    @Test func sizesQuotasAndCountsAreRead() throws {
        let config = try parse(#"maxMemory: "512M", memoryMax: 1073741824, cpuMax: "50%", pidsMax: 64"#, top: "cgroups: false,")
        let limits = try #require(config.groups.first?.limits)
        #expect(limits == CgroupLimits(maxMemory: 512 << 20, memoryMax: 1 << 30,
                                         cpuMax: CPUQuota(quotaMicroseconds: 50_000, periodMicroseconds: 100_000), pidsMax: 64))
        #expect(!config.cgroups)
        #expect(try parse("").cgroups, "cgroups are used by default")
        #expect(try parse(#"cpuMax: "20000/50000""#).groups[0].limits.cpuMax?.cgroupText == "20000 50000")
    }

    @Test func badValuesAreRefusedWithTheirFieldPath() {
        #expect(problems(#"maxMemory: "lots""#).first?.hasPrefix(#"groups[0].maxMemory: must be a number of bytes or a size like "512M""#) == true)
        #expect(problems("maxMemory: 512").first?.hasPrefix("groups[0].maxMemory: must be at least 1M") == true, "\(problems("maxMemory: 512"))")
        #expect(problems(#"cpuMax: "fast""#).first?.hasPrefix("groups[0].cpuMax: must be a CPU share") == true)
        #expect(problems(#"cpuMax: "0%""#).first?.hasPrefix("groups[0].cpuMax:") == true)
        #expect(problems("pidsMax: 0").first == "groups[0].pidsMax: must be 1 or more, got 0")
        #expect(problems("", top: "cgroups: 1,").first?.hasPrefix("cgroups: must be a boolean") == true)
    }

    @Test func byteSizesTakeBinaryUnits() {
        #expect(ByteSize.parse("100") == 100)
        #expect(ByteSize.parse("4k") == 4096)
        #expect(ByteSize.parse("100M") == 100 << 20)
        #expect(ByteSize.parse("2G") == 2 << 30)
        #expect(ByteSize.parse("1T") == 1 << 40)
        for bad in ["", "M", "-1M", "1.5G", "12Q", "99999999999999999999T"] { #expect(ByteSize.parse(bad) == nil, "\(bad)") }
    }

    @Test func cpuQuotasArePercentOrQuotaSlashPeriod() {
        #expect(CPUQuota(parsing: "150%") == CPUQuota(quotaMicroseconds: 150_000, periodMicroseconds: 100_000))
        #expect(CPUQuota(parsing: "5000/10000") == CPUQuota(quotaMicroseconds: 5000, periodMicroseconds: 10000))
        for bad in ["", "%", "0%", "50", "1/100000", "5000/999", "5000/2000000", "a/b"] { #expect(CPUQuota(parsing: bad) == nil, "\(bad)") }
    }
}

@Suite struct CgroupLocationTests {
    static let hybridMountinfo = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw
        """

    @Test func aHybridHostHasItsCgroup2MountBesideTheV1Ones() {
        let found = CgroupLocation.find(mountinfo: Self.hybridMountinfo, selfCgroup: "4:memory:/x\n0::/\n")
        #expect(found == .success(CgroupLocation(mountPoint: "/sys/fs/cgroup/unified", directory: "/sys/fs/cgroup/unified", cgroupPath: "/")))
    }

    @Test func aServiceCgroupIsBelowTheMountPoint() {
        let mountinfo = "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
        let found = CgroupLocation.find(mountinfo: mountinfo, selfCgroup: "0::/system.slice/appd.service\n")
        #expect(found == .success(CgroupLocation(mountPoint: "/sys/fs/cgroup", directory: "/sys/fs/cgroup/system.slice/appd.service",
                                                 cgroupPath: "/system.slice/appd.service")))
    }

    @Test func aMountOfASubtreeIsNotTheHierarchysRoot() {
        let mountinfo = "50 40 0:26 /kubepods/pod1 /sys/fs/cgroup ro,relatime - cgroup2 cgroup2 rw\n"
        #expect(CgroupLocation.find(mountinfo: mountinfo, selfCgroup: "0::/kubepods/pod1/app\n")
                == .success(CgroupLocation(mountPoint: "/sys/fs/cgroup", directory: "/sys/fs/cgroup/app", cgroupPath: "/kubepods/pod1/app")))
        #expect(CgroupLocation.find(mountinfo: mountinfo, selfCgroup: "0::/kubepods/pod1\n")
                == .success(CgroupLocation(mountPoint: "/sys/fs/cgroup", directory: "/sys/fs/cgroup", cgroupPath: "/kubepods/pod1")))
        #expect(CgroupLocation.find(mountinfo: mountinfo, selfCgroup: "0::/elsewhere\n")
                == .failure(.outsideMount(cgroup: "/elsewhere", mountRoot: "/kubepods/pod1")))
    }

    @Test func escapedMountPointsAreUnescaped() {
        let mountinfo = "41 31 0:38 / /mnt/with\\040space rw - cgroup2 none rw\n"
        #expect(CgroupLocation.cgroup2Mount(mountinfo)?.point == "/mnt/with space")
    }

    @Test func v1OnlyHostsAndMissingMountsSayWhy() {
        #expect(CgroupLocation.find(mountinfo: Self.hybridMountinfo, selfCgroup: "4:memory:/x\n1:name=systemd:/\n") == .failure(.noUnifiedHierarchy))
        let v1Only = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        #expect(CgroupLocation.find(mountinfo: v1Only, selfCgroup: "0::/\n") == .failure(.noCgroup2Mount))
        #expect(CgroupLocation.unifiedPath("0::/gone (deleted)\n") == nil)
    }

    @Test func statLinesGiveParentAndProcessGroupWhateverTheCommandName() {
        let line = Array("4711 (a) b (c)) S 42 4700 4700 0 -1 4194560 0 0 0 0 1 2 0 0 20 0 1 0 100 0 0".utf8)
        let parsed = line.withUnsafeBufferPointer(ProcessTree.parentAndGroup)
        #expect(parsed?.parent == 42 && parsed?.group == 4700)
    }
}
