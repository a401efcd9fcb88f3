"""Shared helpers for the bench/ scripts: start appd and its peers in temp
dirs, find a master's children through /proc, and clean up everything a
benchmark started, by pid, even when it fails.

Nothing here touches a process it did not start: every pid that is signalled
is either a master this module spawned or a child observed under such a
master, and a child is only signalled while /proc still shows it with the
command line it had when it was first seen.
"""

import atexit
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
APPD = os.environ.get("APPD", os.path.join(ROOT, ".build-bench", "release", "appd"))
VENV_BIN = os.path.join(BENCH, ".venv", "bin")
CLK_TCK = os.sysconf("SC_CLK_TCK")

WSGI_APP = '''\
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\\n"]
'''


# --------------------------------------------------------------------- /proc

def read_small(path):
    """Read a small /proc file with raw syscalls (cheap enough to busy-poll)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 65536)
    finally:
        os.close(fd)


def read_all(path):
    """Read a /proc file to its end. One read() of a seq_file such as
    /proc/PID/task/TID/children returns at most one page (about 680 pids),
    so lists that may be long must be read in a loop."""
    fd = os.open(path, os.O_RDONLY)
    try:
        parts = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)
    finally:
        os.close(fd)


def children(pid):
    """Direct children of every thread of `pid` (a set of pids)."""
    result = set()
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return result
    for tid in tids:
        try:
            result.update(int(p) for p in read_all(f"/proc/{pid}/task/{tid}/children").split())
        except (FileNotFoundError, ProcessLookupError):
            pass
    return result


def main_task_children_path(pid):
    return f"/proc/{pid}/task/{pid}/children"


def start_ticks(pid):
    """Start time of `pid` in clock ticks since boot, or None if it is gone."""
    try:
        stat = read_small(f"/proc/{pid}/stat").decode()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # Field 22; the command name (field 2) may hold spaces, so split after ')'.
    return int(stat.rsplit(")", 1)[1].split()[19])


def age_seconds(pid):
    ticks = start_ticks(pid)
    if ticks is None:
        return None
    uptime = float(read_small("/proc/uptime").split()[0])
    return uptime - ticks / CLK_TCK


def cmdline(pid):
    try:
        return read_small(f"/proc/{pid}/cmdline")
    except (FileNotFoundError, ProcessLookupError):
        return None


def comm(pid):
    """The process name (/proc/PID/comm, without the newline), or None."""
    try:
        return read_small(f"/proc/{pid}/comm").rstrip(b"\n")
    except (FileNotFoundError, ProcessLookupError):
        return None


def status_field(pid, field):
    """A `kB` field of /proc/PID/status (VmRSS, VmHWM...) in kB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def thread_count(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


# ------------------------------------------------------------------- stats

def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def summary(values):
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p90": percentile(values, 90),
        "min": min(values),
        "max": max(values),
    }


def machine_line():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), Linux {os.uname().release}"


# ------------------------------------------------------------- supervisors

_live = []


def _cleanup_all():
    for sup in list(reversed(_live)):
        sup.stop()


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def install_cleanup():
    """Stop every supervisor still running at exit, also on SIGINT/SIGTERM."""
    atexit.register(_cleanup_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)


class Supervised:
    """A master process this benchmark started, with `count` children."""

    name = "?"
    stop_signal = signal.SIGTERM

    def __init__(self, count, tmp_prefix):
        self.count = count
        self.dir = tempfile.mkdtemp(prefix=f"appd-bench-{tmp_prefix}-")
        self.proc = None
        self.seen = {}  # child pid -> cmdline when first seen

    # Subclasses: argv and files.
    def argv(self):
        raise NotImplementedError

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        log = open(os.path.join(self.dir, "master.out"), "wb")
        self.proc = subprocess.Popen(
            self.argv(), cwd=self.dir, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        _live.append(self)
        return self

    def children(self):
        kids = children(self.pid)
        for kid in kids:
            if kid not in self.seen:
                line = cmdline(kid)
                if line is not None:
                    self.seen[kid] = line
        return kids

    def wait_children(self, count=None, timeout=60.0):
        """Wait until the master has `count` children; return them."""
        want = self.count if count is None else count
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_tail()}")
            kids = self.children()
            if len(kids) == want:
                return kids
            time.sleep(0.02)
        raise RuntimeError(f"{self.name}: {len(self.children())} children after {timeout}s, wanted {want}")

    def log_tail(self):
        path = os.path.join(self.dir, "master.out")
        try:
            with open(path, "rb") as f:
                return f.read()[-2000:].decode(errors="replace")
        except OSError:
            return "(no log)"

    def stop(self):
        if self.proc is None:
            return
        if self in _live:
            _live.remove(self)
        try:
            self.children()  # record the latest children before stopping
        except Exception:
            pass
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(self.stop_signal)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        # Anything we saw that outlived its master, and is still the same
        # process (same command line), is ours: kill it by pid.
        leftovers = []
        for kid, line in self.seen.items():
            if cmdline(kid) == line:
                leftovers.append(kid)
                try:
                    os.kill(kid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if leftovers:
            print(f"  note: killed {len(leftovers)} leftover {self.name} children: {leftovers}", file=sys.stderr)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Appd(Supervised):
    name = "appd"

    def __init__(self, count, command=("sleep", "1000")):
        super().__init__(count, "appd")
        self.config = os.path.join(self.dir, "appd.json5")
        config = {
            "controlSocket": os.path.join(self.dir, "appd.sock"),
            "pidFile": os.path.join(self.dir, "appd.pid"),
            "statusFile": os.path.join(self.dir, "appd.status"),
            "logFile": os.path.join(self.dir, "appd.log"),
            "stopTimeout": 2,
            "groups": [{"name": "bench", "command": list(command), "count": count}],
        }
        with open(self.config, "w") as f:
            json.dump(config, f, indent=2)

    def argv(self):
        if not os.access(APPD, os.X_OK):
            raise RuntimeError(f"{APPD} not built: swift build -c release -Xswiftc -static-executable --scratch-path .build-bench")
        return [APPD, "--config", self.config]

    def start(self):
        super().start()
        # The pid file holds the master's pid; it must be the process we ran.
        pidfile = os.path.join(self.dir, "appd.pid")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with open(pidfile) as f:
                    text = f.read().strip()
                if text:
                    if int(text) != self.proc.pid:
                        raise RuntimeError(f"appd pid file says {text}, started {self.proc.pid}")
                    return self
            except FileNotFoundError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"appd exited with {self.proc.returncode}: {self.log_tail()}")
            time.sleep(0.01)
        raise RuntimeError("appd wrote no pid file within 10 s")

    def log_tail(self):
        path = os.path.join(self.dir, "appd.log")
        try:
            with open(path, "rb") as f:
                return f.read()[-2000:].decode(errors="replace")
        except OSError:
            return super().log_tail()

    # appd forks one helper of its own at start-up, the orphan guard (comm
    # "appd-guard", same command line as the master): it is not a worker, so
    # it is left out of the children counted, picked as victims or measured.
    # It exits by itself once the master is gone; stop() checks that it did.
    GUARD_COMM = b"appd-guard"

    def children(self):
        kids = set()
        for kid in children(self.pid):
            if comm(kid) == self.GUARD_COMM:
                if kid not in self.helpers:
                    line = cmdline(kid)
                    if line is not None:
                        self.helpers[kid] = line
                continue
            kids.add(kid)
            if kid not in self.seen:
                line = cmdline(kid)
                if line is not None:
                    self.seen[kid] = line
        return kids

    @property
    def helpers(self):
        if not hasattr(self, "_helpers"):
            self._helpers = {}
        return self._helpers

    @property
    def socket(self):
        return os.path.join(self.dir, "appd.sock")

    def stop(self):
        helpers = dict(self.helpers)
        super().stop()
        # The guard leaves on EOF from the master; give it a moment, then
        # kill it by pid if it is still there (same comm and command line).
        deadline = time.monotonic() + 2
        for pid, line in helpers.items():
            while time.monotonic() < deadline and comm(pid) == self.GUARD_COMM and cmdline(pid) == line:
                time.sleep(0.01)
            if comm(pid) == self.GUARD_COMM and cmdline(pid) == line:
                try:
                    os.kill(pid, signal.SIGKILL)
                    print(f"  note: killed appd's leftover orphan guard {pid}", file=sys.stderr)
                except ProcessLookupError:
                    pass
        self._helpers = {}


class Supervisord(Supervised):
    name = "supervisord"

    def __init__(self, count, command="sleep 1000", control=False):
        super().__init__(count, "supervisord")
        self.control = control
        self.config = os.path.join(self.dir, "supervisord.conf")
        d = self.dir
        with open(self.config, "w") as f:
            f.write(f"""\
[supervisord]
nodaemon=true
logfile={d}/supervisord.log
pidfile={d}/supervisord.pid
childlogdir={d}
loglevel=info

[program:bench]
command={command}
process_name=%(program_name)s_%(process_num)d
numprocs={count}
autostart=true
autorestart=true
startsecs=0
stopwaitsecs=5
stdout_logfile=NONE
stderr_logfile=NONE
""")
            if control:
                # What supervisorctl needs: the XML-RPC interface on a Unix
                # socket (0700, in the temp dir), and where to find it.
                f.write(f"""
[unix_http_server]
file={self.socket}
chmod=0700

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{self.socket}
""")

    @property
    def socket(self):
        return os.path.join(self.dir, "supervisor.sock")

    def ctl_argv(self, *args):
        """`supervisorctl -c CONF ARGS...` for this instance (control=True)."""
        return [os.path.join(VENV_BIN, "supervisorctl"), "-c", self.config, *args]

    def wait_control(self, timeout=30.0):
        """Wait until supervisorctl can talk to this supervisord."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.socket):
                r = subprocess.run(self.ctl_argv("pid"), capture_output=True, text=True, timeout=30)
                if r.stdout.strip() == str(self.pid):
                    return
            if self.proc.poll() is not None:
                raise RuntimeError(f"supervisord exited with {self.proc.returncode}; see {self.log_tail()}")
            time.sleep(0.05)
        raise RuntimeError(f"supervisorctl could not reach supervisord within {timeout}s")

    def argv(self):
        exe = os.path.join(VENV_BIN, "supervisord")
        if not os.access(exe, os.X_OK):
            raise RuntimeError(f"{exe} missing: run bench/setup-peers.sh")
        return [exe, "-n", "-c", self.config]


class Gunicorn(Supervised):
    name = "gunicorn"
    stop_signal = signal.SIGINT  # quick shutdown

    def __init__(self, count):
        super().__init__(count, "gunicorn")
        with open(os.path.join(self.dir, "benchapp.py"), "w") as f:
            f.write(WSGI_APP)

    def argv(self):
        exe = os.path.join(VENV_BIN, "gunicorn")
        if not os.access(exe, os.X_OK):
            raise RuntimeError(f"{exe} missing: run bench/setup-peers.sh")
        argv = [exe, "-w", str(self.count), "-b", "127.0.0.1:0",
                "--chdir", self.dir, "--pid", os.path.join(self.dir, "gunicorn.pid"),
                "--worker-tmp-dir", self.dir, "--timeout", "120"]
        # Gunicorn >= 24 also starts a control-socket server (a thread, and a
        # socket under ~/.gunicorn); classic gunicorn, as in the issue's
        # figures, has none.
        if "--no-control-socket" in _gunicorn_help():
            argv.append("--no-control-socket")
        return argv + ["benchapp:app"]


_help_cache = None


def _gunicorn_help():
    global _help_cache
    if _help_cache is None:
        exe = os.path.join(VENV_BIN, "gunicorn")
        _help_cache = subprocess.run([exe, "--help"], capture_output=True, text=True).stdout
    return _help_cache


def make(name, count):
    return {"appd": Appd, "supervisord": Supervisord, "gunicorn": Gunicorn}[name](count)


ALL = ["appd", "supervisord", "gunicorn"]


# ------------------------------------------------------ respawn latency

class Victimiser:
    """Kills one child of one master at a time and times its replacement:
    from kill() to a new pid in the master's children list (SIGCHLD
    handling + fork). `victims` picks the children that may be killed (all
    by default; a benchmark whose master also runs a worker under test
    keeps that one out)."""

    def __init__(self, sup, min_age, timeout, victims=None):
        self.sup, self.min_age, self.timeout = sup, min_age, timeout
        self.victims = victims or (lambda kids: kids)
        self.latencies, self.failures = [], 0
        self.reaped = []    # kill -> victim gone from the children list (reaped)
        self.oncpu = []     # master's CPU time between kill and the new pid
        self.waited = []    # master's run-queue wait between kill and the new pid
        master = sup.pid
        self.schedstat = f"/proc/{master}/schedstat"
        path = main_task_children_path(master)
        # Busy-poll one file when the master has one thread (the common case);
        # otherwise union the children of all its threads.
        if thread_count(master) == 1:
            self.poll = lambda: {int(p) for p in read_small(path).split()}
        else:
            self.poll = lambda: children(master)

    def victim(self):
        """The oldest child that may be killed, once it is at least min_age old."""
        kids = self.victims(self.sup.wait_children(timeout=30))
        ages = {pid: age_seconds(pid) for pid in kids}
        victim = max((p for p in ages if ages[p] is not None), key=lambda p: ages[p])
        deadline = time.monotonic() + self.min_age + 5
        while (age_seconds(victim) or 0) < self.min_age and time.monotonic() < deadline:
            time.sleep(0.01)
        return victim

    def kill_one(self):
        victim = self.victim()
        poll = self.poll
        before = poll()
        sched0 = read_small(self.schedstat).split()
        t0 = time.perf_counter()
        os.kill(victim, signal.SIGKILL)
        end = t0 + self.timeout
        reaped = None
        while True:
            kids = poll()
            if kids - before:
                now = time.perf_counter()
                sched1 = read_small(self.schedstat).split()
                self.latencies.append(now - t0)
                self.reaped.append((reaped or now) - t0)
                self.oncpu.append((int(sched1[0]) - int(sched0[0])) / 1e9)
                self.waited.append((int(sched1[1]) - int(sched0[1])) / 1e9)
                return
            if reaped is None and victim not in kids:
                reaped = time.perf_counter()
            if time.perf_counter() > end:
                self.failures += 1
                return
            # Give the CPU away between polls: on a loaded 2-core machine a
            # pure spin would compete with the very master being measured.
            os.sched_yield()


# ------------------------------------------------------ timing a command

def schedstat_ns(pid):
    """Nanoseconds `pid` has spent on a CPU (first field of /proc/PID/schedstat)."""
    return int(read_small(f"/proc/{pid}/schedstat").split()[0])


def schedstat_pair(pid):
    """(ns on a CPU, ns runnable but waiting for a CPU) of `pid` so far."""
    fields = read_small(f"/proc/{pid}/schedstat").split()
    return int(fields[0]), int(fields[1])


def spawn_timed(argv, stdout_path, stderr_path, env=None, timeout=60.0):
    """Run one command to completion, as a shell would, and time it whole:
    from just before posix_spawn() to wait4() returning (process start-up,
    dynamic loading, the command's work, writing its output, exit).

    stdout and stderr go to files (truncated), so the command writes its
    output for real but no pipe reader of ours is in the measurement.
    Returns (wall seconds, the command's CPU seconds user+system from wait4's
    rusage, exit code or -signal). A command still running after `timeout`
    seconds is killed (by its pid) and reported as failed."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, stdout_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
        (os.POSIX_SPAWN_OPEN, 2, stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
    ]
    pidfds = []  # a pidfd names this very process even once it is reaped

    def kill_overdue():
        for fd in pidfds:
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            except ProcessLookupError:
                pass

    watchdog = threading.Timer(timeout, kill_overdue)
    watchdog.start()
    try:
        t0 = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, os.environ if env is None else env, file_actions=actions)
        pidfds.append(os.pidfd_open(pid))
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - t0
    finally:
        watchdog.cancel()
        watchdog.join()
        for fd in pidfds:
            os.close(fd)
    code = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, code


def fmt_ms(seconds):
    return f"{seconds * 1000:.2f} ms"


def fmt_mb(kb):
    return f"{kb / 1024:.1f} MiB"
