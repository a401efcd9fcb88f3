import Foundation
import Glibc
import Shared
import Testing
@testable import DaemonShell
@testable import SupervisorCore

/// The workers' notify channels: who may speak on one, the directory they
/// live in, and the per-turn budget. Against the real kernel where it
/// matters (sockets, files, modes).
@Suite struct NotifyChannelTests {
    // MARK: Who may speak

    private static let worker: Int32 = 4700
    private static let master: UInt32 = 1000
    private static let nobody: UInt32 = 65534

    private func speaks(
        pid: Int32, uid: UInt32 = master, _ lookup: ProcessControl.ProcessGroupLookup
    ) -> Bool {
        let datagram = NotifyChannel.Datagram(pid: pid, uid: uid, payload: Array("READY=1".utf8), truncated: false)
        return NotifyChannels.speaksForWorker(datagram, workerPid: Self.worker, socketOwner: Self.master) { asked in
            #expect(asked == pid, "only the sender's group is looked up")
            return lookup
        }
    }

    @Test func theWorkerItselfSpeaksWithoutALookup() {
        let datagram = NotifyChannel.Datagram(pid: Self.worker, uid: 0, payload: [], truncated: false)
        #expect(NotifyChannels.speaksForWorker(datagram, workerPid: Self.worker, socketOwner: Self.master) { _ in
            Issue.record("no lookup needed for the worker's own pid")
            return .unknown
        })
    }

    @Test func aMemberOfTheWorkersProcessGroupSpeaksForIt() {
        #expect(speaks(pid: 4711, .group(Self.worker)))
        // Its uid does not matter while it runs: the group says who it is.
        #expect(speaks(pid: 4711, uid: 4242, .group(Self.worker)))
    }

    @Test func aLiveProcessOfAnotherGroupIsAStranger() {
        #expect(!speaks(pid: 4711, .group(4711)), "its own group, e.g. after setsid")
        #expect(!speaks(pid: 4800, .group(4800)), "another worker")
        #expect(!speaks(pid: 4711, .unknown))
    }

    @Test func anExitedSenderCountsWhenItsUIDCouldHaveReachedTheSocket() {
        #expect(speaks(pid: 4711, uid: Self.master, .gone), "e.g. systemd-notify, gone once it sent")
        #expect(speaks(pid: 4711, uid: 0, .gone), "root")
        #expect(!speaks(pid: 4711, uid: 4242, .gone), "anyone else")
    }

    @Test func forAWorkerOfAnotherUserAnExitedSenderCountsWhenItIsThatUserOrRoot() {
        // The socket is the worker's user's (mode 0600): appd's own uid can no longer send there.
        func speaks(uid: UInt32) -> Bool {
            let datagram = NotifyChannel.Datagram(pid: 4711, uid: uid, payload: Array("READY=1".utf8), truncated: false)
            return NotifyChannels.speaksForWorker(datagram, workerPid: Self.worker, socketOwner: Self.nobody) { _ in .gone }
        }
        #expect(speaks(uid: Self.nobody), "systemd-notify run by the worker, as its user")
        #expect(speaks(uid: 0), "root")
        #expect(!speaks(uid: Self.master), "a uid that cannot open the socket did not send on it")
    }

    @Test func aSenderWithoutAPidIsAStranger() {
        // getpgid(0) would be the master's own group.
        let datagram = NotifyChannel.Datagram(pid: 0, uid: Self.master, payload: [], truncated: false)
        #expect(!NotifyChannels.speaksForWorker(datagram, workerPid: Self.worker, socketOwner: Self.master) { _ in
            Issue.record("pid 0 must not be looked up")
            return .group(Self.worker)
        })
    }

    @Test func processGroupLookupAgainstTheKernel() throws {
        #expect(ProcessControl.processGroup(of: getpid()) == .group(getpgrp()))
        #expect(ProcessControl.processGroup(of: 0) == .unknown)
        // A pid beyond pid_max belongs to no process.
        #expect(ProcessControl.processGroup(of: Int32.max) == .gone)
    }

    // MARK: The budget

    @Test func aTurnsBudgetIsSharedAndEachChannelGetsAPart() throws {
        try withNotifyChannels { channels, _ in
            #expect(channels.allowance == NotifyChannels.datagramsPerChannelPerTurn)
            for _ in 0..<(NotifyChannels.datagramsPerTurn / NotifyChannels.datagramsPerChannelPerTurn) {
                channels.spend(channels.allowance)
            }
            #expect(channels.allowance == 0, "the turn's budget is spent")
            channels.startTurn()
            #expect(channels.budget == NotifyChannels.datagramsPerTurn)
            channels.spend(NotifyChannels.datagramsPerTurn - 3)
            #expect(channels.allowance == 3)
        }
    }

    // MARK: Channels in their directory

    @Test func eachChannelIsAPrivateSocketOfItsOwnThatKnowsItsSender() throws {
        try withNotifyChannels { channels, controlSocket in
            let directory = controlSocket + ".notify.d"
            var info = stat()
            #expect(lstat(directory, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR && info.st_mode & 0o777 == 0o700)

            let first = try channels.makeChannel(for: nil)
            let second = try channels.makeChannel(for: nil)
            #expect(first.path != second.path)
            for channel in [first, second] {
                #expect(channel.path.hasPrefix(directory + "/"))
                #expect(channel.path.utf8.count - directory.utf8.count - 1 <= NotifyChannels.longestName)
                #expect(lstat(channel.path, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK && info.st_mode & 0o777 == 0o600)
                #expect(fcntl(channel.fd, F_GETFD) & FD_CLOEXEC != 0)
                #expect(fcntl(channel.fd, F_GETFL) & O_NONBLOCK != 0)
                #expect(try channel.receive() == nil)
            }

            try send("READY=1", to: second.path)
            let datagram = try #require(try channel(second, receivesWithin: 5))
            #expect(datagram == NotifyChannel.Datagram(pid: getpid(), uid: geteuid(), payload: Array("READY=1".utf8), truncated: false))
            #expect(try first.receive() == nil, "nothing arrives on the other channel")

            channels.adopt(first, worker: WorkerRef(group: "web", id: 0), pid: 4700)
            #expect(channels[first.fd]?.pid == 4700 && channels.count == 1)
            let released = try #require(channels.release(worker: 4700))
            #expect(released.worker == WorkerRef(group: "web", id: 0) && channels.count == 0)
            #expect(channels.release(worker: 4700) == nil)
            channels.discard(released.socket)
            channels.discard(second)
            #expect(access(first.path, F_OK) != 0 && access(second.path, F_OK) != 0, "discarded channels leave no file")
        }
    }

    @Test(.enabled(if: geteuid() == 0, "giving a socket to another user needs root"))
    func aChannelForAWorkerOfAnotherUserIsThatUsersAndItsWayThereIsSearchable() throws {
        try withNotifyChannels { channels, controlSocket in
            let directory = controlSocket + ".notify.d"
            let parent = (controlSocket as NSString).deletingLastPathComponent
            #expect(chmod(parent, 0o700) == 0)
            let own = try channels.makeChannel(for: nil)
            var info = stat()
            #expect(stat(directory, &info) == 0 && info.st_mode & 0o777 == 0o700, "no one else's worker yet: nothing opened")

            let nobody = WorkerIdentity(user: "nobody", uid: Self.nobody, gid: 65534, groups: [65534])
            let theirs = try channels.makeChannel(for: nobody)
            #expect(theirs.owner == Self.nobody && own.owner == geteuid())
            #expect(lstat(theirs.path, &info) == 0 && info.st_uid == Self.nobody && info.st_gid == 65534 && info.st_mode & 0o777 == 0o600)
            #expect(stat(directory, &info) == 0 && info.st_mode & 0o777 == 0o701, "others may pass, not list")
            #expect(stat(parent, &info) == 0 && info.st_mode & 0o777 == 0o701, "the control socket's directory too")
            #expect(lstat(own.path, &info) == 0 && info.st_uid == geteuid(), "the other sockets stay appd's")
            #expect(channels.directory.firstDirectoryBlocking(nobody) == nil)
            #expect(chmod(parent, 0o700) == 0)
            #expect(channels.directory.firstDirectoryBlocking(nobody)?.path == parent)
            channels.discard(own)
            channels.discard(theirs)
        }
    }

    @Test func removeAllClosesEveryChannelAndTheDirectory() throws {
        try withTemporaryDirectory { directory in
            let controlSocket = directory + "/appd.sock"
            let channels = try NotifyChannels(besideControlSocket: controlSocket)
            let adopted = try channels.makeChannel(for: nil)
            channels.adopt(adopted, worker: WorkerRef(group: "web", id: 0), pid: 4700)
            channels.removeAll()
            #expect(access(controlSocket + ".notify.d", F_OK) != 0)
        }
    }

    @Test func aControlSocketPathWithNoRoomForTheChannelsIsRefusedAtStartUp() throws {
        try withTemporaryDirectory { directory in
            // The longest control socket path that still leaves room.
            let room = UnixSocketAddress.maximumPathBytes - ".notify.d/".utf8.count - NotifyChannels.longestName
            let fits = directory + "/" + String(repeating: "s", count: room - directory.utf8.count - 1)
            let channels = try NotifyChannels(besideControlSocket: fits)
            let channel = try channels.makeChannel(for: nil)
            channels.discard(channel)
            channels.removeAll()

            let error = try #require(throws: SystemError.self) { try NotifyChannels(besideControlSocket: fits + "s") }
            #expect(error.errno == ENAMETOOLONG)
            #expect(error.description.contains("at most \(room) bytes"), "\(error)")
            #expect(access(fits + "s.notify.d", F_OK) != 0, "nothing is created")
        }
    }

    // MARK: Taking over a crashed daemon's directory

    @Test func staleEntriesAreRemovedWithoutFollowingSymlinks() throws {
        try withTemporaryDirectory { directory in
            let notifyDirectory = directory + "/appd.sock.notify.d"
            #expect(mkdir(notifyDirectory, 0o755) == 0)
            // A stale socket, a plain file, an empty directory, and symlinks
            // to a file and a directory outside that must survive.
            let stale = try NotifyChannel(path: notifyDirectory + "/w0")
            FileIO.close(stale.fd)
            #expect(FileManager.default.createFile(atPath: notifyDirectory + "/junk", contents: Data("x".utf8)))
            #expect(mkdir(notifyDirectory + "/empty", 0o700) == 0)
            let outsideFile = directory + "/precious"
            let outsideDirectory = directory + "/keep"
            #expect(FileManager.default.createFile(atPath: outsideFile, contents: Data("keep".utf8)))
            #expect(mkdir(outsideDirectory, 0o700) == 0)
            #expect(FileManager.default.createFile(atPath: outsideDirectory + "/inside", contents: Data()))
            #expect(symlink(outsideFile, notifyDirectory + "/link") == 0)
            #expect(symlink(outsideDirectory, notifyDirectory + "/dirlink") == 0)

            let channels = try NotifyChannels(besideControlSocket: directory + "/appd.sock")
            defer { channels.removeAll() }
            #expect(try FileManager.default.contentsOfDirectory(atPath: notifyDirectory).isEmpty)
            var info = stat()
            #expect(lstat(notifyDirectory, &info) == 0 && info.st_mode & 0o777 == 0o700, "made private again")
            #expect(try String(contentsOfFile: outsideFile, encoding: .utf8) == "keep")
            #expect(FileManager.default.fileExists(atPath: outsideDirectory + "/inside"))
        }
    }

    @Test func aSymlinkOrAFileInPlaceOfTheDirectoryIsRefusedAndLeftAlone() throws {
        try withTemporaryDirectory { directory in
            let elsewhere = directory + "/elsewhere"
            #expect(mkdir(elsewhere, 0o755) == 0)
            #expect(FileManager.default.createFile(atPath: elsewhere + "/theirs", contents: Data()))
            #expect(symlink(elsewhere, directory + "/a.sock.notify.d") == 0)
            let linked = try #require(throws: SystemError.self) { try NotifyChannels(besideControlSocket: directory + "/a.sock") }
            #expect(linked.description.contains("is not a directory"), "\(linked)")
            #expect(FileManager.default.fileExists(atPath: elsewhere + "/theirs"), "nothing followed the link")
            var info = stat()
            #expect(stat(elsewhere, &info) == 0 && info.st_mode & 0o777 == 0o755, "its target untouched")

            #expect(FileManager.default.createFile(atPath: directory + "/b.sock.notify.d", contents: Data("x".utf8)))
            let file = try #require(throws: SystemError.self) { try NotifyChannels(besideControlSocket: directory + "/b.sock") }
            #expect(file.description.contains("is not a directory"), "\(file)")
            #expect(try String(contentsOfFile: directory + "/b.sock.notify.d", encoding: .utf8) == "x")
        }
    }

    @Test(.enabled(if: geteuid() == 0, "needs root to give a directory away"))
    func aDirectoryOfAnotherUserIsRefused() throws {
        try withTemporaryDirectory { directory in
            let theirs = directory + "/appd.sock.notify.d"
            #expect(mkdir(theirs, 0o700) == 0)
            #expect(FileManager.default.createFile(atPath: theirs + "/w0", contents: Data()))
            #expect(chown(theirs, 12345, 12345) == 0)
            let error = try #require(throws: SystemError.self) { try NotifyChannels(besideControlSocket: directory + "/appd.sock") }
            #expect(error.errno == EPERM && error.description.contains("owned by uid 12345"), "\(error)")
            #expect(FileManager.default.fileExists(atPath: theirs + "/w0"), "its contents are left alone")
        }
    }
}

private func withNotifyChannels(_ body: (NotifyChannels, String) throws -> Void) throws {
    try withTemporaryDirectory { directory in
        let controlSocket = directory + "/appd.sock"
        let channels = try NotifyChannels(besideControlSocket: controlSocket)
        defer { channels.removeAll() }
        try body(channels, controlSocket)
    }
}

private func withTemporaryDirectory(_ body: (String) throws -> Void) throws {
    var template = Array("/tmp/appd-notify-XXXXXX".utf8CString)
    guard let created = mkdtemp(&template) else { throw SystemError.last("mkdtemp") }
    let directory = String(cString: created)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try body(directory)
}

/// One datagram from this process, as a worker would send it.
private func send(_ text: String, to path: String) throws {
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw SystemError.last("socket") }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    let sent = try UnixSocketAddress(path).withSockaddr { address, length in
        bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT), address, length) }
    }
    guard sent == bytes.count else { throw SystemError.last("sendto(\(path))") }
}

private func channel(_ channel: NotifyChannel, receivesWithin seconds: Double) throws -> NotifyChannel.Datagram? {
    let deadline = MonotonicInstant.now().adding(seconds: seconds)
    repeat {
        if let datagram = try channel.receive() { return datagram }
        usleep(1000)
    } while MonotonicInstant.now() < deadline
    return nil
}
