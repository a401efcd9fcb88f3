import Glibc
import Shared
import SupervisorCore

/// Everything the daemon must hold before it may supervise, acquired in the
/// order that keeps a second daemon from disturbing the first: the orphan
/// guard (first, so it inherits none of what follows), the pid-file lock,
/// the control socket's lock, the control socket (a live one is never
/// replaced), the directory of the workers' notify sockets next to it
/// (emptied of what a crashed daemon left: the lock says no live daemon
/// uses it), then the groups' listening sockets and the metrics listener.
struct DaemonResources {
    let orphanGuard: OrphanGuard
    let pidFile: PidFileLock
    /// Held for the daemon's life beside the control socket: a second
    /// daemon with another pid file but the same socket stops here, so the
    /// probe-then-bind of a stale socket file below is never raced.
    let socketLock: PidFileLock
    let control: UnixControlListener
    let notifyChannels: NotifyChannels
    let listeners: ListenerRegistry
    /// The bound, non-blocking socket of `metrics.listen`, when configured.
    let metricsListener: Int32?
    let signals: SignalChannel
    let poll: EventPoll
    let timer: DeadlineTimer

    init(config: DaemonConfig) throws(StartupError) {
        do {
            orphanGuard = try OrphanGuard.start()
        } catch {
            throw StartupError(error.description)
        }
        // Before any file is made: every directory appd writes in is made
        // (0700) where missing and checked (RuntimeDirectory), so a refused
        // directory gets no file of ours.
        do throws(SystemError) {
            for file in [config.pidFile, config.controlSocket, config.statusFile] {
                try RuntimeDirectory.open(parentOf: file).directory.close()
            }
        } catch {
            throw StartupError(error.description)
        }
        do {
            pidFile = try PidFileLock(path: config.pidFile)
        } catch {
            throw StartupError(String(describing: error))
        }
        do {
            socketLock = try PidFileLock(path: config.controlSocket + ".lock")
        } catch {
            pidFile.remove()
            throw StartupError(String(describing: error))
        }
        var bound: [() -> Void] = []
        do throws(SystemError) {
            // A deep backlog: hundreds of appctl calls at once must queue, not fail.
            let control = try UnixControlListener(path: config.controlSocket, backlog: 1024)
            bound.append(control.remove)
            let notifyChannels = try NotifyChannels(besideControlSocket: config.controlSocket)
            bound.append(notifyChannels.removeAll)
            let listeners = ListenerRegistry()
            try listeners.bindAll(for: config)
            bound.append(listeners.closeAll)
            var metricsListener: Int32?
            if let metrics = config.metrics {
                let fd = try ListeningSocket.bind(metrics.listen, backlog: 128)
                bound.append { FileIO.close(fd) }
                try FileIO.setNonBlocking(fd)
                metricsListener = fd
            }
            try ProcessControl.setChildSubreaper()
            (self.control, self.notifyChannels, self.listeners, self.metricsListener) = (control, notifyChannels, listeners, metricsListener)
            signals = try SignalChannel(signals: Daemon.handledSignals)
            poll = try EventPoll()
            timer = try DeadlineTimer()
        } catch {
            // Leave no socket file behind: the next start must not find a stale one of ours.
            for undo in bound.reversed() { undo() }
            socketLock.remove()
            pidFile.remove()
            throw StartupError(error.description)
        }
    }
}

struct StartupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
