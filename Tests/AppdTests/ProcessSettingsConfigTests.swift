import Foundation
import Testing
@testable import Shared

/// What a group's processes are started as, read from the config: `user`
/// and `group` (looked up now), `umask`, `nice`, `rlimits`, `envFile` and
/// the templates of `env`; and the privilege a non-root appd lacks.
@Suite struct ProcessSettingsConfigTests {
    /// A private directory for a config file and its env files.
    final class Scratch {
        let directory: CheckDirectory

        init() throws { directory = try CheckDirectory() }

        var path: String { directory.path }
        var configPath: String { directory.configPath }

        func write(_ name: String, _ text: String) throws {
            try directory.file(name, mode: 0o644, contents: text)
        }

        /// The one group of `{groups: [{name: "web", command: ["x"], <fields>}]}`.
        func group(_ fields: String) throws -> GroupConfig {
            try #require(try ConfigLoader.parse(Self.config(fields), sourcePath: configPath).groups.first)
        }

        /// Its problems as `fieldPath: message`, this directory written `$DIR`.
        func problems(_ fields: String) -> [String] { directory.problems(Self.config(fields)) }

        private static func config(_ fields: String) -> String { #"{groups: [{name: "web", command: ["x"], \#(fields)}]}"# }
    }

    // MARK: user and group

    @Test func aUserIsLookedUpWithItsPrimaryAndSupplementaryGroups() throws {
        let scratch = try Scratch()
        let nobody = WorkerIdentity(user: "nobody", uid: 65534, gid: 65534, groups: [65534], loginName: "nobody", home: "/nonexistent")
        #expect(try scratch.group(#"user: "nobody""#).identity == nobody)
        #expect(nobody.loginEnvironment == ["USER": "nobody", "LOGNAME": "nobody", "HOME": "/nonexistent"])
        // A number is a uid; its entry still gives the primary group, name and home.
        #expect(try scratch.group(#"user: 65534"#).identity
            == WorkerIdentity(user: "65534", uid: 65534, gid: 65534, groups: [65534], loginName: "nobody", home: "/nonexistent"))
        #expect(try scratch.group(#"user: "65534""#).identity?.uid == 65534)
        // root's supplementary groups come from the group database with the chosen group first.
        let root = try #require(try scratch.group(#"user: "root", group: "nogroup""#).identity)
        #expect(root.uid == 0 && root.gid == 65534 && root.group == "nogroup" && root.groups.first == 65534)
        #expect(root.description.hasPrefix("root (uid 0), group nogroup (gid 65534)"))
        #expect(try scratch.group("").identity == nil, "no user: appd's own")
    }

    @Test func unknownUsersAndGroupsAndAGroupAloneAreRefused() throws {
        let scratch = try Scratch()
        #expect(scratch.problems(#"user: "no-such-user-here""#) == ["groups[0].user: no such user 'no-such-user-here'"])
        #expect(scratch.problems(#"user: "nobody", group: "no-such-group-here""#) == ["groups[0].group: no such group 'no-such-group-here'"])
        #expect(scratch.problems(#"group: "nogroup""#)
            == ["groups[0].group: needs `user` as well: the supplementary groups come from the user's entry (for appd's own user, name it)"])
        #expect(scratch.problems(#"user: 4000000000"#)
            == ["groups[0].user: uid 4000000000 has no entry in the user database, so no primary group: give `group` too"])
        let unknown = try #require(try scratch.group(#"user: 4000000000, group: 4000000001"#).identity)
        #expect(unknown == WorkerIdentity(user: "4000000000", group: "4000000001", uid: 4_000_000_000, gid: 4_000_000_001, groups: [4_000_000_001]))
        #expect(unknown.loginEnvironment == ["USER": nil, "LOGNAME": nil, "HOME": nil], "appd's own are not passed on")
        #expect(scratch.problems(#"user: true"#) == [#"groups[0].user: must be a user name such as "www-data", or a uid, got boolean true"#])
        #expect(scratch.problems(#"user: -1"#) == [#"groups[0].user: must be a user name such as "www-data", or a uid, got number -1"#])
    }

    // MARK: umask, nice, rlimits

    @Test func umaskAndNiceAreCheckedLikeTheirSystemCalls() throws {
        let scratch = try Scratch()
        #expect(try scratch.group(#"umask: "0027", nice: -20"#).umask == 0o027)
        #expect(try scratch.group(#"umask: "077", nice: 19"#).nice == 19)
        #expect(scratch.problems(#"umask: 27"#) == [#"groups[0].umask: must be an octal mode in a string, such as "0027", got number 27"#])
        #expect(scratch.problems(#"umask: "0999""#)
            == [#"groups[0].umask: must be an octal mode from "0000" to "0777", such as "0027", got "0999""#])
        #expect(scratch.problems(#"nice: 20"#) == ["groups[0].nice: must be 19 or less, got 20"])
        #expect(scratch.problems(#"nice: -21"#) == ["groups[0].nice: must be -20 or more, got -21"])
    }

    @Test func rlimitsTakeANumberInfinityOrSoftAndHard() throws {
        let scratch = try Scratch()
        let limits = try scratch.group(#"rlimits: {nofile: 65536, core: "infinity", stack: {soft: 8388608, hard: "infinity"}}"#).resourceLimits
        #expect(limits == [
            .nofile: ResourceLimit(soft: 65536, hard: 65536),
            .core: ResourceLimit(soft: ResourceLimit.infinity, hard: ResourceLimit.infinity),
            .stack: ResourceLimit(soft: 8_388_608, hard: ResourceLimit.infinity),
        ])
        #expect(limits[.stack]?.description == "8388608/infinity" && limits[.nofile]?.description == "65536")
        #expect(scratch.problems(#"rlimits: {nofiles: 10}"#) == ["groups[0].rlimits.nofiles: unknown field 'nofiles'; did you mean 'nofile'?"])
        #expect(scratch.problems(#"rlimits: {nofile: {soft: 10, hard: 5}}"#)
            == ["groups[0].rlimits.nofile: the soft limit (10) must not be above the hard one (5)"])
        #expect(scratch.problems(#"rlimits: {nofile: {soft: 10}}"#) == ["groups[0].rlimits.nofile.hard: is required"])
        #expect(scratch.problems(#"rlimits: {core: -1, cpu: 1.5, as: "unlimited"}"#) == [
            #"groups[0].rlimits.as: must be a whole number or "infinity", got string "unlimited""#,
            "groups[0].rlimits.core: must be a whole number or \"infinity\", got number -1",
            "groups[0].rlimits.cpu: must be a whole number or \"infinity\", got number 1.5",
        ])
        // Every name is systemd's Limit*= in lower case, numbered as glibc numbers them (checked in csystem.c).
        #expect(ResourceLimitName.nofile.resource == 7 && ResourceLimitName.nofile.constantName == "RLIMIT_NOFILE")
        #expect(Set(ResourceLimitName.allCases.map(\.resource)) == Set(0...15))
    }

    // MARK: envFile

    @Test func envFilesAreReadWhenTheConfigIsAndEnvWinsOverThem() throws {
        let scratch = try Scratch()
        try scratch.write("base.env", "# defaults\nPORT=80\nMODE=dev\nDB_URL=\"postgres://db/app\"\n")
        try scratch.write("local.env", "MODE=staging\n")
        let group = try scratch.group(#"envFile: ["base.env", "local.env", "-absent.env"], env: {PORT: "8080"}"#)
        #expect(group.envFiles.map(\.path) == ["base.env", "local.env", "absent.env"].map { scratch.path + "/" + $0 })
        #expect(group.envFiles.map(\.isOptional) == [false, false, true])
        #expect(group.envFiles.map(\.exists) == [true, true, false])
        #expect(group.environmentFromFiles == ["PORT": "80", "MODE": "staging", "DB_URL": "postgres://db/app"], "a later file wins")
        #expect(group.environment(forWorker: 0) == ["PORT": "8080", "MODE": "staging", "DB_URL": "postgres://db/app"], "env wins")
        #expect(try scratch.group(#"envFile: "base.env""#).envFiles.count == 1)
    }

    @Test func anEnvFileThatCannotBeReadIsRefusedWithFileAndLine() throws {
        let scratch = try Scratch()
        try scratch.write("bad.env", "OK=1\nJUST_A_NAME\nexport PATH=/bin\nQUOTE=\"never closed\n")
        #expect(scratch.problems(#"envFile: "bad.env""#) == [
            #"groups[0].envFile: $DIR/bad.env:2: expected KEY=VALUE, got "JUST_A_NAME""#,
            #"groups[0].envFile: $DIR/bad.env:3: "export PATH" is not a variable name: printable characters only, no white space (the file is not a shell script: drop 'export')"#,
            "groups[0].envFile: $DIR/bad.env:4: the quote opened here is never closed",
        ])
        #expect(scratch.problems(#"envFile: "missing.env""#) == ["groups[0].envFile: cannot read $DIR/missing.env: No such file or directory"])
        #expect(scratch.problems(#"envFile: ["-"]"#) == ["groups[0].envFile[0]: needs a path after '-'"])
        #expect(scratch.problems(#"envFile: 3"#) == ["groups[0].envFile: must be a path or an array of paths, got number 3"])
        try Data([0x41, 0x3D, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: scratch.path + "/latin1.env"))
        #expect(scratch.problems(#"envFile: "latin1.env""#) == ["groups[0].envFile: $DIR/latin1.env is not UTF-8 text"])
    }

    @Test func theEnvironmentFileFormatIsSystemds() {
        func parsed(_ text: String) -> [String: String]? {
            let (variables, problems) = EnvironmentFile.parse(text)
            return problems.isEmpty ? variables : nil
        }
        #expect(parsed("A=1\n\n  # comment\n; also a comment\nB = two words  \n") == ["A": "1", "B": "two words"])
        #expect(parsed("A='single $HOME \\n kept'\nB=\"double \\\"quoted\\\" \\$HOME \\\\ \\n\"\n")
            == ["A": "single $HOME \\n kept", "B": "double \"quoted\" $HOME \\ \\n"])
        #expect(parsed("A=one\\\ntwo\nB=\"multi\nline\"\nC=a\\ b\n") == ["A": "onetwo", "B": "multi\nline", "C": "a b"])
        #expect(parsed("A=\"quoted\"  \nB='  kept  '\nEMPTY=\nLAST=no newline") == ["A": "quoted", "B": "  kept  ", "EMPTY": "", "LAST": "no newline"])
        #expect(parsed("# a comment \\\nA=still the comment\nB=2\n") == ["B": "2"])
        #expect(parsed("A=1\r\nB=2\r\n") == ["A": "1", "B": "2"])
        #expect(parsed("A=#not a comment\nA=later wins\n") == ["A": "later wins"])
        #expect(parsed("=value\n") == nil)
        #expect(EnvironmentFile.parse("A=1\nB='open\n\nC=3").problems == [.init(line: 2, message: "the quote opened here is never closed")])
    }

    // MARK: Templates in env

    @Test func templatesGiveEachWorkerItsOwnValue() throws {
        let scratch = try Scratch()
        let group = try scratch.group(#"env: {PORT: "{{8000 + id}}", URL: "http://127.0.0.1:{{ id+9000 }}/w{{id}}", BRACES: "{{{{id}}", PLAIN: "}} {"}"#)
        #expect(group.environment(forWorker: 0) == ["PORT": "8000", "URL": "http://127.0.0.1:9000/w0", "BRACES": "{{id}}", "PLAIN": "}} {"])
        #expect(group.environment(forWorker: 3)["PORT"] == "8003" && group.environment(forWorker: 3)["URL"] == "http://127.0.0.1:9003/w3")
        #expect(group.env["PORT"] == "{{8000 + id}}", "the config keeps the template; describe shows it")
    }

    @Test func aTemplateThatIsNotOneIsRefusedAtItsVariable() throws {
        let scratch = try Scratch()
        #expect(scratch.problems(#"env: {PORT: "{{port}}", A: "{{8000 - id}}", B: "{{id", C: "{{id + id}}", D: "{{1234567890 + id}}"}"#) == [
            #"groups[0].env.A: unknown template '{{8000 - id}}' in "{{8000 - id}}": expected {{id}} or {{N + id}} (N a whole number of at most 9 digits); write '{{{{' for a literal '{{'"#,
            #"groups[0].env.B: '{{' without its '}}' in "{{id"; write '{{{{' for a literal '{{'"#,
            #"groups[0].env.C: unknown template '{{id + id}}' in "{{id + id}}": expected {{id}} or {{N + id}} (N a whole number of at most 9 digits); write '{{{{' for a literal '{{'"#,
            #"groups[0].env.D: unknown template '{{1234567890 + id}}' in "{{1234567890 + id}}": expected {{id}} or {{N + id}} (N a whole number of at most 9 digits); write '{{{{' for a literal '{{'"#,
            #"groups[0].env.PORT: unknown template '{{port}}' in "{{port}}": expected {{id}} or {{N + id}} (N a whole number of at most 9 digits); write '{{{{' for a literal '{{'"#,
        ])
    }

    // MARK: A reload replaces processes whose start would differ

    @Test func everyNewSettingIsPartOfWhatAProcessIsStartedWith() throws {
        let scratch = try Scratch()
        try scratch.write("a.env", "A=1\n")
        let base = try scratch.group(#"envFile: "a.env""#)
        for change in [#"user: "nobody""#, #"umask: "0077""#, #"nice: 3"#, #"rlimits: {core: 0}"#] {
            #expect(!base.startsTheSameProcessAs(try scratch.group(#"envFile: "a.env", "# + change)), "\(change)")
        }
        #expect(!base.startsTheSameProcessAs(try scratch.group(#"envFile: ["a.env", "-b.env"]"#)), "another file")
        try scratch.write("a.env", "A=2\n")
        #expect(!base.startsTheSameProcessAs(try scratch.group(#"envFile: "a.env""#)), "the file's content changed")
        #expect(base.startsTheSameProcessAs(base))
    }

    // MARK: What a non-root appd cannot do

    @Test func aNonRootAppdCannotChangeUsersRaiseHardLimitsOrPriority() throws {
        let scratch = try Scratch()
        let config = try ConfigLoader.parse(#"""
            {groups: [
              {name: "web", command: ["x"], user: "nobody", rlimits: {nofile: {soft: 10, hard: 5000}, core: 0}, nice: -1},
              {name: "own", command: ["x"], user: 1000, group: 1000, nice: 0},
              {name: "grouped", command: ["x"], user: 1000, group: 1001},
            ]}
            """#, sourcePath: scratch.configPath)
        let user = ConfigLoader.Privileges(uid: 1000, gid: 1000, hardLimits: [.nofile: 4096, .core: .max], lowestNice: 0)
        #expect(ConfigLoader.privilegeProblems(in: config, as: user).map { "\($0.fieldPath): \($0.message)" } == [
            "groups[0].user: group web: user 'nobody' needs appd to run as root (it runs as uid 1000)",
            "groups[0].rlimits.nofile: group web: a hard limit of 5000 is above appd's own (4096): raising it needs appd to run as root (it runs as uid 1000)",
            "groups[0].nice: group web: nice -1 is below the lowest appd may give (0): it needs appd to run as root (it runs as uid 1000)",
            "groups[2].group: group grouped: group '1001' needs appd to run as root (it runs as uid 1000)",
        ])
        // appd runs as nobody but with another group: nobody's own primary group is a change too.
        let nobodyWithRootGroup = ConfigLoader.Privileges(uid: 65534, gid: 0, hardLimits: [:], lowestNice: 0)
        let nobody = try ConfigLoader.parse(#"{groups: [{name: "web", command: ["x"], user: "nobody"}]}"#, sourcePath: scratch.configPath)
        #expect(ConfigLoader.privilegeProblems(in: nobody, as: nobodyWithRootGroup).map(\.message)
            == ["group web: the primary group of user 'nobody' (gid 65534) needs appd to run as root (it runs as uid 65534)"])
        let root = ConfigLoader.Privileges(uid: 0, gid: 0, hardLimits: [.nofile: 4096], lowestNice: 0)
        #expect(ConfigLoader.privilegeProblems(in: config, as: root).isEmpty, "root may do all of it")
    }
}
