import Foundation
import Glibc
import Testing
@testable import DaemonShell
import Shared

/// `listen: [{address: "unix:...", mode, owner, group}]`: read with field
/// paths, and applied when the socket is bound.
@Suite struct UnixListenOptionsTests {
    /// The problems of `groups[0].listen` = `listen`, as `fieldPath: message`.
    private func problems(listen: String) -> [String] {
        let text = #"{groups: [{name: "web", command: ["x"], listen: \#(listen)}]}"#
        do {
            _ = try ConfigLoader.parse(text, sourcePath: "/etc/appd/appd.json")
            return []
        } catch {
            return error.problems.map { "\($0.fieldPath): \($0.message)" }
        }
    }

    private func group(listen: String) throws -> GroupConfig {
        let text = #"{groups: [{name: "web", command: ["x"], listen: \#(listen)}]}"#
        return try #require(ConfigLoader.parse(text, sourcePath: "/etc/appd/appd.json").groups.first)
    }

    @Test func objectFormSitsBesideTheStringFormAndResolvesNamesAndNumbers() throws {
        let web = try group(listen: #"""
            ["tcp://127.0.0.1:8080",
             {address: "unix:run/web.sock", mode: "0660", owner: "root", group: "0"},
             {address: "unix:/run/other.sock", owner: 65534, mode: "600"},
             {address: "unix:/run/plain.sock"}]
            """#)
        #expect(web.listen == [
            .tcp(host: "127.0.0.1", port: 8080), .unix(path: "/etc/appd/run/web.sock"), .unix(path: "/run/other.sock"),
            .unix(path: "/run/plain.sock"),
        ])
        #expect(web.socketPermissions == [
            .unix(path: "/etc/appd/run/web.sock"): UnixSocketPermissions(mode: 0o660, owner: 0, group: 0),
            .unix(path: "/run/other.sock"): UnixSocketPermissions(mode: 0o600, owner: 65534),
        ])
        let config = try ConfigLoader.parse(#"{groups: [{name: "web", command: ["x"], listen: [{address: "unix:/s", mode: "0640"}]}]}"#,
                                            sourcePath: "/etc/appd.json")
        #expect(config.socketPermissions(for: .unix(path: "/s")) == UnixSocketPermissions(mode: 0o640))
        #expect(config.socketPermissions(for: .unix(path: "/t")) == nil)
    }

    @Test func badOptionsAreRefusedWithTheirFieldPaths() {
        #expect(problems(listen: #"[{address: "unix:/s", mode: 660}]"#)
            == [#"groups[0].listen[0].mode: must be an octal mode in a string, such as "0660", got number 660"#])
        #expect(problems(listen: #"[{address: "unix:/s", mode: "0999"}]"#)
            == [#"groups[0].listen[0].mode: must be an octal mode from "0000" to "0777", such as "0660", got "0999""#])
        #expect(problems(listen: #"[{address: "unix:/s", mode: "4755"}]"#)
            == [#"groups[0].listen[0].mode: must be an octal mode from "0000" to "0777", such as "0660", got "4755""#])
        #expect(problems(listen: #"[{address: "unix:/s", owner: "no-such-user-appd"}]"#)
            == ["groups[0].listen[0].owner: no such user 'no-such-user-appd'"])
        #expect(problems(listen: #"[{address: "unix:/s", group: "no-such-group-appd"}]"#)
            == ["groups[0].listen[0].group: no such group 'no-such-group-appd'"])
        #expect(problems(listen: #"[{address: "unix:/s", group: true}]"#)
            == [#"groups[0].listen[0].group: must be a group name such as "www-data", or a gid, got boolean true"#])
        #expect(problems(listen: #"[{address: "tcp://127.0.0.1:80", mode: "0660", group: "root"}]"#) == [
            "groups[0].listen[0].mode: applies only to unix: addresses, not to 'tcp://127.0.0.1:80'",
            "groups[0].listen[0].group: applies only to unix: addresses, not to 'tcp://127.0.0.1:80'",
        ])
        #expect(problems(listen: #"[{mode: "0660"}]"#) == ["groups[0].listen[0].address: is required"])
        #expect(problems(listen: #"[{address: "unix:/s", mdoe: "0660"}]"#)
            == ["groups[0].listen[0].mdoe: unknown field 'mdoe'; did you mean 'mode'?"])
        #expect(problems(listen: #"[{address: "unix:"}]"#)
            == ["groups[0].listen[0].address: invalid listen address 'unix:': the socket path is empty"])
        #expect(problems(listen: #"["unix:/s", {address: "unix:/s", mode: "0600"}]"#)
            == ["groups[0].listen[1]: 'unix:/s' is already used at groups[0].listen[0]"])
    }

    @Test(.enabled(if: geteuid() == 0, "chown to another uid needs root"))
    func boundSocketGetsItsModeOwnerAndGroup() throws {
        try withPrivateDirectory { directory in
            let path = directory + "/web.sock"
            let fd = try ListeningSocket.bind(.unix(path: path), permissions: UnixSocketPermissions(mode: 0o660, owner: 65534, group: 65534))
            defer { FileIO.close(fd) }
            var info = stat()
            try #require(lstat(path, &info) == 0)
            #expect(info.st_mode & S_IFMT == S_IFSOCK)
            #expect(info.st_mode & 0o7777 == 0o660)
            #expect(info.st_uid == 65534 && info.st_gid == 65534)

            let groupOnly = directory + "/group.sock"
            let second = try ListeningSocket.bind(.unix(path: groupOnly), permissions: UnixSocketPermissions(group: 65534))
            defer { FileIO.close(second) }
            try #require(lstat(groupOnly, &info) == 0)
            #expect(info.st_uid == geteuid() && info.st_gid == 65534, "only the group changes")
        }
    }

    @Test func aListenSocketInADirectoryOthersCanWriteIsRefused() throws {
        try withPrivateDirectory { directory in
            let shared = directory + "/shared"
            try #require(mkdir(shared, 0o700) == 0 && chmod(shared, 0o777) == 0)
            let error = try #require(throws: SystemError.self) { try ListeningSocket.bind(.unix(path: shared + "/web.sock")) }
            #expect(error.description.hasPrefix("runtime directory \(shared): is writable by others (mode 0777)"), "\(error)")
            #expect(!FileManager.default.fileExists(atPath: shared + "/web.sock"))
        }
    }
}

/// A fresh 0700 directory under /tmp (short: unix socket paths are limited).
func withPrivateDirectory(_ body: (String) throws -> Void) throws {
    var template = Array("/tmp/appd-rt-XXXXXX".utf8CString)
    guard let created = mkdtemp(&template) else { throw SystemError.last("mkdtemp") }
    let directory = String(cString: created)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try body(directory)
}
