import Glibc
import Shared
import SupervisorCore

/// The workers' notify channels: one datagram socket per worker, bound in
/// `<controlSocket>.notify.d/` under a short name of its own ("w" and a
/// serial number), known by fd (the low half of its epoll token).
///
/// A channel is made before its worker is spawned (the worker's
/// NOTIFY_SOCKET names it), read while the worker lives, drained once more
/// when the worker has been reaped, then closed and its file unlinked: no fd
/// or file stays behind for a worker that is gone.
final class NotifyChannels {
    /// A channel whose worker has been spawned.
    struct Channel {
        let socket: NotifyChannel
        let worker: WorkerRef
        let pid: Int32
    }

    /// Datagrams read per turn of the loop over all channels together (what
    /// the one shared socket had), so workers flooding their channels
    /// cannot hold up the rest of the loop. What is left keeps its channel
    /// readable for the next turn (epoll is level-triggered).
    static let datagramsPerTurn = 64
    /// Datagrams read from one channel per turn: a flooding worker leaves
    /// the rest of the turn's budget to the others.
    static let datagramsPerChannelPerTurn = 16
    /// "w" and a 32-bit serial in base 36.
    static let longestName = 1 + String(UInt32.max, radix: 36).utf8.count

    let directory: NotifyDirectory
    private var channels: [Int32: Channel] = [:]
    /// Worker pid → channel fd.
    private var channelOfWorker: [Int32: Int32] = [:]
    /// Names bound now, adopted or not: after 2³² spawns the serial wraps
    /// around and skips these.
    private var namesInUse: Set<String> = []
    private var nextSerial: UInt32 = 0
    /// What is left of this turn's `datagramsPerTurn`.
    private(set) var budget = datagramsPerTurn

    /// Prepares the directory `<controlSocket>.notify.d` (see
    /// `NotifyDirectory`). Refuses, before touching anything, a control
    /// socket path so long that a channel's path would not fit in a unix
    /// socket address: better a clear refusal at start-up than every spawn
    /// failing later.
    init(besideControlSocket controlSocket: String) throws(SystemError) {
        let path = controlSocket + ".notify.d"
        let longest = path.utf8.count + 1 + Self.longestName
        guard longest <= UnixSocketAddress.maximumPathBytes else {
            let room = UnixSocketAddress.maximumPathBytes - (longest - controlSocket.utf8.count)
            throw SystemError(
                call: "notify directory \(path)", errno: ENAMETOOLONG,
                reason: "the workers' notify sockets in it would have paths of up to \(longest) bytes, and Unix sockets "
                    + "allow at most \(UnixSocketAddress.maximumPathBytes): the controlSocket path may have at most \(room) bytes")
        }
        directory = try NotifyDirectory(path: path)
    }

    var count: Int { channels.count }

    subscript(fd: Int32) -> Channel? { channels[fd] }

    /// A new channel for a worker about to be spawned: bound, not yet tied
    /// to a pid, and handed over to the worker's user when it runs as
    /// another one (`NotifyDirectory.handOver`). The caller either `adopt`s
    /// it once the worker runs or `discard`s it.
    func makeChannel(for identity: WorkerIdentity?) throws(SystemError) -> NotifyChannel {
        var name: String
        repeat {
            name = "w" + String(nextSerial, radix: 36)
            nextSerial &+= 1
        } while namesInUse.contains(name)
        let path = directory.path(of: name)
        guard path.utf8.count <= UnixSocketAddress.maximumPathBytes else {
            throw SystemError(call: "notify socket \(path)", errno: ENAMETOOLONG,
                              reason: "the path is \(path.utf8.count) bytes; Unix sockets allow at most \(UnixSocketAddress.maximumPathBytes)")
        }
        var channel = try NotifyChannel(path: path)
        if let identity, identity.uid != channel.owner {
            do {
                try directory.handOver(name, to: identity)
            } catch {
                channel.remove()
                throw error
            }
            channel.owner = identity.uid
        }
        namesInUse.insert(name)
        return channel
    }

    /// Ties a channel to the worker just spawned with it.
    func adopt(_ socket: NotifyChannel, worker: WorkerRef, pid: Int32) {
        channels[socket.fd] = Channel(socket: socket, worker: worker, pid: pid)
        channelOfWorker[pid] = socket.fd
    }

    /// Closes and unlinks a channel whose worker never started.
    func discard(_ socket: NotifyChannel) {
        namesInUse.remove(Self.name(of: socket))
        socket.remove()
    }

    /// Takes the channel of worker `pid` out of the registry (the caller
    /// drains it and `discard`s it); nil for a pid that has none.
    func release(worker pid: Int32) -> Channel? {
        guard let fd = channelOfWorker.removeValue(forKey: pid) else { return nil }
        return channels.removeValue(forKey: fd)
    }

    /// Closes every channel and removes the directory: the daemon is leaving.
    func removeAll() {
        for channel in channels.values { discard(channel.socket) }
        channels.removeAll()
        channelOfWorker.removeAll()
        directory.remove()
    }

    // MARK: Budget

    /// A new turn of the loop: the full budget again.
    func startTurn() { budget = Self.datagramsPerTurn }

    /// How many datagrams one channel may have read now.
    var allowance: Int { min(budget, Self.datagramsPerChannelPerTurn) }

    func spend(_ datagrams: Int) { budget = max(0, budget - datagrams) }

    // MARK: Who may speak

    /// Whether a datagram read on the channel of worker `workerPid` counts
    /// for that worker, judged by the kernel-supplied sender credentials,
    /// never by what the datagram says (systemd's `NotifyAccess=all`,
    /// bounded by the process group instead of the cgroup):
    ///
    /// - the worker itself;
    /// - a member of its process group (each worker leads its own): a
    ///   `systemd-notify --ready` in a shell worker, a helper process;
    /// - a sender that has exited by now (`systemd-notify` exits right after
    ///   sending, so its group can no longer be asked) whose uid is the
    ///   socket's owner (`NotifyChannel.owner`: the master's, or the worker's
    ///   user's when it runs as another) or root's. The channel is mode 0600:
    ///   only its owner and root can have sent on it at all, so this admits
    ///   no one the socket's permissions did not. (Any process of a worker's
    ///   user could; it could as well ptrace the worker.)
    ///
    /// Anyone else (another worker, a process that left the group with
    /// `setsid`, a sender whose pid the kernel could not map) is a stranger.
    static func speaksForWorker(
        _ datagram: NotifyChannel.Datagram, workerPid: Int32, socketOwner: UInt32,
        processGroup: (Int32) -> ProcessControl.ProcessGroupLookup = ProcessControl.processGroup(of:)
    ) -> Bool {
        if datagram.pid == workerPid { return true }
        guard datagram.pid > 0 else { return false }
        switch processGroup(datagram.pid) {
        case .group(let group): return group == workerPid
        case .gone: return datagram.uid == socketOwner || datagram.uid == 0
        case .unknown: return false
        }
    }

    private static func name(of socket: NotifyChannel) -> String {
        socket.path.split(separator: "/").last.map(String.init) ?? socket.path
    }
}
