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


def children(pid):
    """Direct children of every thread of `pid` (a set of pids)."""
    result = set()
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return result
    for tid in tids:
        try:
            result.update(int(p) for p in read_small(f"/proc/{pid}/task/{tid}/children").split())
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
            raise RuntimeError(f"{APPD} not built: swift build -c release --static-swift-stdlib --scratch-path .build-bench")
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


class Supervisord(Supervised):
    name = "supervisord"

    def __init__(self, count, command="sleep 1000"):
        super().__init__(count, "supervisord")
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


def fmt_ms(seconds):
    return f"{seconds * 1000:.2f} ms"


def fmt_mb(kb):
    return f"{kb / 1024:.1f} MiB"
