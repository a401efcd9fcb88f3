import Foundation
import Glibc
import Testing
@testable import DaemonShell
import Shared

/// The checks on the directories appd writes in, and on the files it opens
/// there: nothing planted by someone else is trusted or followed.
@Suite struct RuntimeDirectoryTests {
    /// A file with known content and an old mtime, to show it was not touched.
    private func victim(_ path: String) throws -> (content: String, mtime: Int) {
        try "root only\n".write(toFile: path, atomically: false, encoding: .utf8)
        var times = [timespec(tv_sec: 978_307_200, tv_nsec: 0), timespec(tv_sec: 978_307_200, tv_nsec: 0)]
        try #require(utimensat(AT_FDCWD, path, &times, 0) == 0)
        return ("root only\n", 978_307_200)
    }

    private func untouched(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) {
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mtim.tv_sec == 978_307_200, "mtime of \(path)", sourceLocation: sourceLocation)
        #expect((try? String(contentsOfFile: path, encoding: .utf8)) == "root only\n", "content of \(path)", sourceLocation: sourceLocation)
    }

    private func refusal(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "(not refused)"
        } catch {
            return "\(error)"
        }
    }

    @Test func missingDirectoriesAreMadePrivateAndExistingOnesAreKept() throws {
        try withPrivateDirectory { base in
            let runtime = try RuntimeDirectory.open(base + "/a/b/c")
            runtime.close()
            for path in ["/a", "/a/b", "/a/b/c"] {
                var info = stat()
                #expect(lstat(base + path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR && info.st_mode & 0o777 == 0o700)
            }
            try #require(chmod(base + "/a/b/c", 0o755) == 0)
            try RuntimeDirectory.open(base + "/a/b/c").close()
            var info = stat()
            #expect(stat(base + "/a/b/c", &info) == 0 && info.st_mode & 0o777 == 0o755, "not writable by others: kept as it is")
            #expect(refusal { try RuntimeDirectory.open(base + "/missing", creating: false).close() }
                == "open(\(base)/missing): No such file or directory")
        }
    }

    @Test func aDirectoryOthersCanWriteIsRefusedWithWhatToDo() throws {
        try withPrivateDirectory { base in
            let open = base + "/open"
            try #require(mkdir(open, 0o700) == 0 && chmod(open, 0o777) == 0)
            let message = refusal { try RuntimeDirectory.open(open).close() }
            #expect(message.hasPrefix("runtime directory \(open): is writable by others (mode 0777): whoever can write there "
                + "could plant symlinks or files for appd. Check what is in it, then `chmod go-w \(open)`"), "\(message)")
            try #require(chmod(open, 0o770) == 0)
            #expect(refusal { try RuntimeDirectory.open(open).close() }.contains("is writable by its group (mode 0770)"))
            try #require(chmod(open, 0o1777) == 0)
            #expect(refusal { try RuntimeDirectory.open(open).close() }.contains("is writable by others (mode 1777)"),
                    "sticky like /tmp is still refused: others can plant names")
        }
    }

    @Test(.enabled(if: geteuid() == 0, "chown to another uid needs root"))
    func aDirectoryOfAnotherUserIsRefused() throws {
        try withPrivateDirectory { base in
            let theirs = base + "/theirs"
            try #require(mkdir(theirs, 0o700) == 0 && chown(theirs, 65534, 65534) == 0)
            let message = refusal { try RuntimeDirectory.open(theirs).close() }
            #expect(message.hasPrefix("runtime directory \(theirs): is owned by uid 65534, not by appd's user (uid 0) or root: "
                + "another user may have made it"), "\(message)")
        }
    }

    @Test func symlinksAreFollowedOnlyWhereNoOneElseCouldHavePlantedThem() throws {
        try withPrivateDirectory { base in
            try #require(mkdir(base + "/real", 0o700) == 0)
            // In a private directory: the operator's own link, followed.
            try #require(symlink(base + "/real", base + "/link") == 0)
            let followed = try RuntimeDirectory.open(base + "/link/run")
            followed.close()
            #expect(FileManager.default.fileExists(atPath: base + "/real/run"))
            // ... but never for appd's default runtime directory.
            #expect(refusal { try RuntimeDirectory.open(base + "/link", refusingSymlink: true).close() }
                .hasPrefix("runtime directory \(base)/link: is a symlink; appd's runtime directory must be a real directory"))
            // In a directory others can write (as /tmp): planted, refused.
            try #require(mkdir(base + "/shared", 0o700) == 0 && chmod(base + "/shared", 0o1777) == 0)
            try #require(symlink(base + "/real", base + "/shared/appd-0") == 0)
            let message = refusal { try RuntimeDirectory.open(base + "/shared/appd-0").close() }
            #expect(message.hasPrefix("runtime directory \(base)/shared/appd-0: \(base)/shared/appd-0 is a symlink in \(base)/shared, "
                + "which others can write (mode 1777"), "\(message)")
            // A file where a directory should be.
            FileManager.default.createFile(atPath: base + "/file", contents: Data())
            #expect(refusal { try RuntimeDirectory.open(base + "/file/run").close() }
                == "runtime directory \(base)/file/run: \(base)/file is not a directory")
        }
    }

    @Test func filesAreOpenedWithoutFollowingAPlantedSymlink() throws {
        try withPrivateDirectory { base in
            _ = try victim(base + "/victim")
            let runtime = try RuntimeDirectory.open(base + "/run")
            defer { runtime.close() }
            try #require(symlink(base + "/victim", base + "/run/appd.pid") == 0)
            #expect(refusal { _ = try runtime.openFile("appd.pid", O_RDWR | O_CREAT) }
                == "open(\(base)/run/appd.pid): is a symlink; appd does not follow symlinks where it writes: remove it")
            #expect(refusal { _ = try RuntimeDirectory.openForAppending(base + "/run/appd.pid") }.contains("is a symlink"))
            try #require(mkfifo(base + "/run/fifo", 0o600) == 0)
            #expect(refusal { _ = try runtime.openFile("fifo", O_RDWR) } == "open(\(base)/run/fifo): is not a regular file: remove it")
            untouched(base + "/victim")
        }
    }

    @Test func pidFileLockRefusesASymlinkedPidFile() throws {
        try withPrivateDirectory { base in
            _ = try victim(base + "/victim")
            try #require(symlink(base + "/victim", base + "/appd.pid") == 0)
            let failure = try #require(throws: PidFileLock.Failure.self) { try PidFileLock(path: base + "/appd.pid") }
            #expect(failure.description.contains("is a symlink"))
            untouched(base + "/victim")
        }
    }

    @Test func replacingAFileReplacesPlantedSymlinksInsteadOfWritingThroughThem() throws {
        try withPrivateDirectory { base in
            _ = try victim(base + "/victim-status")
            _ = try victim(base + "/victim-tmp")
            let runtime = try RuntimeDirectory.open(base + "/run")
            defer { runtime.close() }
            try #require(symlink(base + "/victim-status", base + "/run/appd.status") == 0)
            try #require(symlink(base + "/victim-tmp", base + "/run/appd.status.tmp") == 0)
            try runtime.replaceFile("appd.status", with: Array("snapshot\n".utf8))
            var info = stat()
            #expect(lstat(base + "/run/appd.status", &info) == 0 && info.st_mode & S_IFMT == S_IFREG)
            #expect(try String(contentsOfFile: base + "/run/appd.status", encoding: .utf8) == "snapshot\n")
            #expect(lstat(base + "/run/appd.status.tmp", &info) != 0, "the planted temporary name is gone")
            untouched(base + "/victim-status")
            untouched(base + "/victim-tmp")
        }
    }
}

@Suite struct RuntimePathsTests {
    @Test func rootWithoutXDGRuntimeDirUsesRunWhenItCan() {
        #expect(RuntimePaths.defaultDirectory(environment: [:], userID: 0, runIsWritable: { true }) == "/run/appd")
        #expect(RuntimePaths.defaultDirectory(environment: [:], userID: 0, runIsWritable: { false }) == "/tmp/appd-0")
        #expect(RuntimePaths.defaultDirectory(environment: ["XDG_RUNTIME_DIR": "/run/user/0"], userID: 0, runIsWritable: { true })
            == "/run/user/0/appd", "a session's runtime directory comes first")
        var asked = false
        #expect(RuntimePaths.defaultDirectory(environment: [:], userID: 1000, runIsWritable: { asked = true; return true })
            == "/tmp/appd-1000", "/run is root's alone")
        #expect(!asked)
    }

    @Test func theDefaultsAreInTheDefaultDirectory() throws {
        #expect(RuntimePaths.defaultControlSocket == RuntimePaths.defaultDirectory + "/appd.sock")
        let config = try ConfigLoader.parse(#"{groups: [{name: "a", command: ["x"]}]}"#, sourcePath: "/etc/appd.json")
        #expect(config.controlSocket == RuntimePaths.defaultControlSocket && config.pidFile == RuntimePaths.defaultPidFile)
        if geteuid() == 0, ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"] == nil {
            var info = stat()
            let runUsable = stat("/run", &info) == 0 && access("/run", W_OK) == 0
            #expect(RuntimePaths.defaultDirectory == (runUsable ? "/run/appd" : "/tmp/appd-0"))
        }
    }
}
