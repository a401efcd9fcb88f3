#!/usr/bin/env python3
"""Respawn and `ping` latency of appd's master under load, in one run
(issue "A master that nothing can stall"). appd only: no peer needed.

One appd with three groups: `small` (16 × `sleep 1000`, the victims),
`flood` (count 0 at first: `yes`, which writes lines as fast as the master
reads them) and `big` (count 0 at first: `sleep 1000`). Its `logFile` is a
file in the temp dir. The conditions, one after another, each measured the
same way:

  idle        the small group only
  flood       + --flood-workers `yes` writing to their stdout, which the master
              reads, labels and writes to its log file (appctl scale flood N)
  1000        + --big `sleep 1000` workers (flood back to 0), no clients: what
              1000 children cost alone (appctl scale big 1000; measured once
              `appctl status --json` shows all of them running)
  1000+watch  + --watchers raw clients streaming `status` with `watch: 0.1`
              (`{"id":1,"cmd":"status","watch":0.1}`), reading everything they
              get, in a process of their own so that they do not share the
              measuring process's interpreter lock
  idle again  big back to 0: the idle figures once more, for drift (machine load
              from other sessions moves over minutes)

In each condition, --kills times, at least --kill-interval s apart: the oldest
process of the small group (up >= --min-age s: appd respawns at once only
after a process stayed up >= 1 s) is SIGKILLed and the master's children list
(/proc/PID/task/PID/children, read to its end) is polled until a new pid
appears: SIGCHLD handling + fork, as in respawn-latency.py. It is busy-polled
(sched_yield between reads) for the first --spin-ms, then read every 0.2 ms,
and every 1 ms after 50 ms, so that a respawn that takes hundreds of ms is
not measured with a poller taking a CPU from the master on this 2-core
machine. Between two kills, up to --pings-per-kill `ping` requests at random
moments (at least one, however slow) over one persistent raw socket
connection (`{"id":N,"cmd":"ping"}` written → its reply line read: the
master's round trip without any client start-up), and now and then a whole
`appctl ping` (posix_spawn() to wait4(), --appctl-pings per condition). For
each kill and ping, the master's loop thread's time on a CPU and time
runnable without one (schedstat). The kills
are paced so that the small group stays well under appd's restart intensity
limit (max(10, 2 × count) restarts in 10 s); a condition whose kills take
longer than --max-seconds in all is cut short, so the run stays bounded
(≈ 3 min with the defaults) however slow the master is.

Over the kill/ping window of each condition: the master's CPU time
(utime + stime from /proc/PID/stat, all its threads; and its loop thread,
/proc/PID/task/PID/schedstat, with the time it was runnable but waiting for
a CPU), the log's growth under the flood (bytes/s, ≈ lines/s, lines the
master's log writer dropped), and the watchers' snapshots.

With 1000 workers, quiet and under the watchers: `appctl status --group big
--json` timed whole (--status-runs, median; at most --status-seconds) and
`status` of the same group over a raw socket (the daemon's answer alone),
outside the kill/ping window.

Usage: bench/load-latency.py [--kills 30] [--kill-interval 0.4] [--pings-per-kill 10] [--max-seconds 40]
       [--appctl-pings 10] [--big 1000] [--watchers 10] [--watch 0.1] [--status-runs 20]
       [--flood-workers 1] [--flood-line TEXT] [--conditions idle,flood,1000,1000+watch,idle-again]
       [--json FILE]
"""

import argparse
import atexit
import json
import math
import mmap
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

APPCTL = os.environ.get("APPCTL", os.path.join(os.path.dirname(B.APPD), "appctl"))

GOAL_RESPAWN = 3e-3   # under the flood and under the watchers
GOAL_PING = 5e-3      # under the flood and under the watchers
GOAL_STATUS = 20e-3   # `appctl status --json` of 1000 workers
CONDITIONS = ["idle", "flood", "1000", "1000+watch", "idle-again"]
LOADED = ["flood", "1000+watch"]  # the two the goals name


# ------------------------------------------------------------------- daemon

class LoadAppd(B.Appd):
    """benchlib's appd, with the three groups of this benchmark."""

    def __init__(self, small, flood_command):
        super().__init__(small)
        self.small_count = small
        with open(self.config) as f:
            config = json.load(f)
        config["groups"] = [
            {"name": "small", "command": ["sleep", "1000"], "count": small},
            {"name": "flood", "command": flood_command, "count": 0},
            {"name": "big", "command": ["sleep", "1000"], "count": 0},
        ]
        with open(self.config, "w") as f:
            json.dump(config, f, indent=2)

    @property
    def log_path(self):
        return os.path.join(self.dir, "appd.log")


def request(path, obj, timeout=60.0):
    """One request over a fresh raw connection; returns (final line, items)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(json.dumps(obj).encode() + b"\n")
        buf, items = b"", []
        while True:
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError(f"appd closed the connection during {obj}")
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                reply = json.loads(line)
                if reply.get("done") or not reply.get("ok"):
                    return reply, items
                items.append(reply.get("item"))


def scale(d, group, count):
    final, _ = request(d.socket, {"id": 1, "cmd": "scale", "group": group, "count": count})
    if not final.get("ok"):
        raise RuntimeError(f"scale {group} {count}: {final}")


def appctl_status(d, group):
    """`appctl status --group G --json` → its process items (a list)."""
    r = subprocess.run([APPCTL, "--socket", d.socket, "status", "--group", group, "--json"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"appctl status --group {group}: exit {r.returncode}: {r.stderr.strip()[:300]}")
    return json.loads(r.stdout)["processes"]


def running(procs):
    return [p for p in procs if p.get("state") == "running" and p.get("pid")]


def wait_group(d, group, want, timeout):
    """Poll `appctl status --group G --json` until `want` processes run (and no
    more slots exist than that); returns (seconds, their pids)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    last = None
    while time.monotonic() < deadline:
        if d.proc.poll() is not None:
            raise RuntimeError(f"appd exited with {d.proc.returncode}: {d.log_tail()}")
        procs = appctl_status(d, group)
        run = running(procs)
        last = (len(procs), len(run))
        if len(run) == want and len(procs) == want:
            return time.monotonic() - t0, [p["pid"] for p in run]
        time.sleep(0.25)
    raise RuntimeError(f"group {group}: {last[1] if last else '?'} running of {last[0] if last else '?'} "
                       f"after {timeout}s, wanted {want}")


def wait_gone(pids, lines, timeout):
    """Wait until none of `pids` is alive with the command line it had."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if B.cmdline(p) == lines.get(p)]
        if not alive:
            return []
        time.sleep(0.05)
    return [p for p in pids if B.cmdline(p) == lines.get(p)]


# -------------------------------------------------------------- /proc bits

def proc_ticks(path):
    """utime + stime (clock ticks) from a /proc .../stat file."""
    fields = B.read_small(path).decode().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class CpuWindow:
    """The master's CPU over a window: all threads (/proc/PID/stat utime +
    stime), and its loop thread's on-CPU and run-queue time (schedstat, ns)."""

    def __init__(self, pid):
        self.pid = pid
        self.t0 = time.monotonic()
        self.ticks0 = proc_ticks(f"/proc/{pid}/stat")
        self.sched0 = [int(x) for x in B.read_small(f"/proc/{pid}/task/{pid}/schedstat").split()[:2]]

    def end(self):
        wall = time.monotonic() - self.t0
        ticks = proc_ticks(f"/proc/{self.pid}/stat") - self.ticks0
        sched = [int(x) for x in B.read_small(f"/proc/{self.pid}/task/{self.pid}/schedstat").split()[:2]]
        return {
            "wall_s": wall,
            "cpu_s": ticks / B.CLK_TCK,
            "cpu_share": ticks / B.CLK_TCK / wall,
            "loop_cpu_share": (sched[0] - self.sched0[0]) / 1e9 / wall,
            "loop_wait_share": (sched[1] - self.sched0[1]) / 1e9 / wall,
            "threads": B.thread_count(self.pid),
        }


def is_small_worker(pid):
    """A `sleep` that appd started for the small group (after its exec)."""
    try:
        env = B.read_all(f"/proc/{pid}/environ")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return B.comm(pid) == b"sleep" and b"\0APP_GROUP=small\0" in b"\0" + env


# ------------------------------------------------------------- raw clients

class PingClient:
    """One persistent protocol connection, for `ping` round trips."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.next_id = 1

    def ping(self):
        rid = self.next_id
        self.next_id += 1
        request_line = b'{"id":%d,"cmd":"ping"}\n' % rid
        buf = b""
        t0 = time.perf_counter()
        self.sock.sendall(request_line)
        while not buf.endswith(b"\n"):
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("appd closed the ping connection")
            buf += chunk
        elapsed = time.perf_counter() - t0
        if b'"pong":true' not in buf or b'"id":%d,' % rid not in buf:
            raise ValueError(f"unexpected ping reply {buf[:200]!r}")
        return elapsed

    def close(self):
        self.sock.close()


def raw_status(path, group, runs):
    """`status` of one group over a persistent raw connection, `runs` times:
    request written → final line read."""
    times = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(path)
        lines = sock.makefile("rb", buffering=1 << 20)
        for rid in range(1, runs + 1):
            t0 = time.perf_counter()
            sock.sendall(json.dumps({"id": rid, "cmd": "status", "group": group}).encode() + b"\n")
            while True:
                line = lines.readline(2 << 20)
                if not line.endswith(b"\n"):
                    raise ConnectionError("appd closed the status connection")
                if b'"done":true' in line:
                    times.append(time.perf_counter() - t0)
                    break
        lines.close()
    return times


# The watchers run in a process of their own (one selector loop for all of
# them): in the measuring process their reading would hold the interpreter
# lock while a respawn or ping is being timed. Each sends one `status` with
# `watch` and reads everything; a line "start" on stdin opens the counting
# window, "stop" closes it; at EOF on stdin it prints its figures as JSON and
# exits (the clients close with it).
WATCHER = r'''
import json, os, selectors, socket, sys, time
path, n, every = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
req = json.dumps({"id": 1, "cmd": "status", "watch": every}).encode() + b"\n"
sel = selectors.DefaultSelector()
clients = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(req)
    s.setblocking(False)
    c = {"bytes": 0, "ends": [], "tail": b"", "errors": 0, "closed": False}
    clients.append(c)
    sel.register(s, selectors.EVENT_READ, (s, c))
sel.register(sys.stdin, selectors.EVENT_READ, None)
TOKEN, ERR = b'"snapshotEnd"', b'"ok":false'
ready, start, stop, stdin_buf = False, None, None, b""
while True:
    for key, _ in sel.select(timeout=1.0):
        if key.data is None:
            data = os.read(0, 4096)
            if not data:
                end = stop if stop is not None else time.monotonic()
                start = start if start is not None else end
                out = {"window_s": end - start, "clients": []}
                for c in clients:
                    ends = [t for t in c["ends"] if start <= t <= end]
                    out["clients"].append({"snapshots": len(ends), "bytes": c["bytes"], "errors": c["errors"],
                                           "closed": c["closed"],
                                           "intervals": [b - a for a, b in zip(ends, ends[1:])]})
                print(json.dumps(out), flush=True)
                sys.exit(0)
            stdin_buf += data
            if b"start\n" in stdin_buf and start is None:
                start = time.monotonic()
            if b"stop\n" in stdin_buf and stop is None:
                stop = time.monotonic()
            continue
        s, c = key.data
        try:
            chunk = s.recv(1 << 20)
        except BlockingIOError:
            continue
        if not chunk:
            c["closed"] = True
            sel.unregister(s)
            s.close()
            continue
        c["bytes"] += len(chunk)
        hay = c["tail"] + chunk
        now = time.monotonic()
        c["ends"].extend([now] * hay.count(TOKEN))
        c["errors"] += hay.count(ERR)
        c["tail"] = hay[-(len(TOKEN) - 1):]
    if not ready and all(c["ends"] for c in clients):
        ready = True
        print("ready", flush=True)
'''


class Watchers:
    def __init__(self, path, n, every):
        self.proc = subprocess.Popen([sys.executable, "-c", WATCHER, path, str(n), str(every)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
        atexit.register(self.kill)

    def wait_ready(self, timeout):
        # The process prints "ready" once every client has had a snapshot.
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=timeout):
            raise RuntimeError(f"watchers: not every client had a snapshot after {timeout}s")
        line = self.proc.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"watchers: {line!r} (exit {self.proc.poll()})")

    def start_window(self):
        self.proc.stdin.write(b"start\n")
        self.proc.stdin.flush()
        self.ticks0 = proc_ticks(f"/proc/{self.proc.pid}/stat")

    def end_window(self):
        self.proc.stdin.write(b"stop\n")
        self.proc.stdin.flush()
        self.ticks = proc_ticks(f"/proc/{self.proc.pid}/stat") - self.ticks0

    def finish(self):
        ticks = self.ticks
        self.proc.stdin.close()
        out = json.loads(self.proc.stdout.readline())
        self.proc.wait(timeout=10)
        out["cpu_s"] = ticks / B.CLK_TCK
        return out

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=5)


# --------------------------------------------------------- the log flood

DROPPED = re.compile(rb"warning: (\d+) lines dropped")


class LogMeter:
    """How much the master writes to its log file over a window. The file is
    opened O_APPEND by appd, so it can be truncated in between to keep the
    disk use bounded (--log-cap); the bytes are added up first."""

    def __init__(self, path, cap):
        self.path, self.cap = path, cap
        self.bytes = 0
        self.dropped = 0
        self.markers = 0
        self.avg_line = None

    def size(self):
        try:
            return os.path.getsize(self.path)
        except FileNotFoundError:
            return 0

    def start(self):
        self.base = self.size()
        self.t0 = time.monotonic()

    def _scan(self, start):
        """Drop markers in the file from `start` on; a sample for the mean line length."""
        with open(self.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size <= start:
                return size
            with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as m:
                for match in DROPPED.finditer(m, start):
                    self.dropped += int(match.group(1))
                    self.markers += 1
                sample = m[max(start, size - 65536):size]
        lines = sample.count(b"\n")
        if lines > 10:
            self.avg_line = len(sample) / lines
        return size

    def maybe_truncate(self):
        if self.size() < self.cap:
            return
        size = self._scan(self.base)
        self.bytes += size - self.base
        os.truncate(self.path, 0)
        self.base = 0

    def stop(self):
        size = self._scan(self.base)
        self.bytes += size - self.base
        wall = time.monotonic() - self.t0
        r = {"bytes": self.bytes, "wall_s": wall, "bytes_per_s": self.bytes / wall,
             "dropped_lines": self.dropped, "drop_markers": self.markers, "avg_line_bytes": self.avg_line}
        if self.avg_line:
            r["lines_per_s"] = self.bytes / self.avg_line / wall
        return r


# ------------------------------------------------------------ one condition

class Condition:
    def __init__(self, name):
        self.name = name
        self.respawn, self.reaped, self.failures = [], [], 0
        self.respawn_oncpu, self.respawn_waited = [], []
        self.pings, self.ping_failures = [], 0
        self.ping_oncpu, self.ping_waited = [], []
        self.cut_short = self.status_cut_short = False
        self.appctl_pings, self.appctl_failures = [], 0
        self.status_wall, self.status_raw, self.status_failures = [], [], 0
        self.cpu = self.flood = self.watch = None
        self.extra_pids = 0   # new children that were not the victim's replacement

    def result(self):
        r = {"failures": self.failures, "ping_failures": self.ping_failures,
             "appctl_failures": self.appctl_failures, "status_failures": self.status_failures,
             "cpu": self.cpu, "flood": self.flood, "watch": self.watch, "extra_pids": self.extra_pids,
             "cut_short": self.cut_short, "status_cut_short": self.status_cut_short}
        for key, values in (("respawn", self.respawn), ("ping", self.pings), ("appctl_ping", self.appctl_pings),
                            ("status_wall", self.status_wall), ("status_raw", self.status_raw)):
            if values:
                s = B.summary(values)
                s["p99"] = B.percentile(values, 99)
                s["samples_ms"] = [round(v * 1000, 3) for v in values]
                r[key] = s
        for key, values in (("reaped_median", self.reaped), ("respawn_oncpu_median", self.respawn_oncpu),
                            ("respawn_waited_median", self.respawn_waited), ("ping_oncpu_median", self.ping_oncpu),
                            ("ping_waited_median", self.ping_waited)):
            if values:
                r[key] = statistics.median(values)
        return r


class Bench:
    def __init__(self, d, args):
        self.d, self.args = d, args
        self.children_path = B.main_task_children_path(d.pid)
        self.loop_schedstat = f"/proc/{d.pid}/task/{d.pid}/schedstat"
        self.small = set()     # live pids of the small group
        self.pending = set()   # new children not yet identified (fork seen, exec maybe not)
        self.rng = random.Random(args.seed)
        self.work = tempfile.mkdtemp(prefix="appd-bench-load-")

    def refresh_small(self, pids):
        self.small = set(pids)

    def resolve_pending(self, cond):
        for pid in list(self.pending):
            if B.comm(pid) is None:
                self.pending.discard(pid)
            elif is_small_worker(pid):
                self.small.add(pid)
                self.pending.discard(pid)
            elif B.comm(pid) not in (b"appd",):  # exec'd into something else: not ours to kill
                self.pending.discard(pid)
                cond.extra_pids += 1

    def victim(self, cond):
        """The oldest live process of the small group, once it is >= min_age old."""
        deadline = time.monotonic() + 10
        while True:
            self.resolve_pending(cond)
            ages = {p: B.age_seconds(p) for p in self.small}
            ages = {p: a for p, a in ages.items() if a is not None and is_small_worker(p)}
            self.small = set(ages)
            if ages:
                pid = max(ages, key=ages.get)
                if ages[pid] >= self.args.min_age:
                    return pid
            if time.monotonic() > deadline:
                raise RuntimeError(f"no small-group process aged >= {self.args.min_age}s "
                                   f"({len(self.small)} known, {len(self.pending)} pending)")
            time.sleep(0.01)

    def kill_one(self, cond):
        victim = self.victim(cond)
        path = self.children_path
        raw = B.read_all(path)
        before = {int(p) for p in raw.split()}
        sched0 = self.loop_sched()
        t0 = time.perf_counter()
        os.kill(victim, signal.SIGKILL)
        spin_until = t0 + self.args.spin_ms / 1000
        end = t0 + self.args.timeout
        reaped = None
        last = raw
        while True:
            raw = B.read_all(path)
            if raw != last:  # parse only when the list changed
                last = raw
                kids = {int(p) for p in raw.split()}
                new = kids - before
                if new:
                    now = time.perf_counter()
                    sched1 = self.loop_sched()
                    cond.respawn.append(now - t0)
                    cond.reaped.append((reaped or now) - t0)
                    cond.respawn_oncpu.append((sched1[0] - sched0[0]) / 1e9)
                    cond.respawn_waited.append((sched1[1] - sched0[1]) / 1e9)
                    self.small.discard(victim)
                    self.pending |= new
                    return
                if reaped is None and victim not in kids:
                    reaped = time.perf_counter()
            now = time.perf_counter()
            if now > end:
                cond.failures += 1
                self.small.discard(victim)
                print(f"load-latency: {cond.name}: no new child within {self.args.timeout}s of kill -9 {victim}",
                      file=sys.stderr)
                return
            # Busy-poll (giving the CPU away between reads) for the first
            # --spin-ms; after that, sleep 0.2 ms between reads, and 1 ms
            # after 50 ms (an error under 2 %): on this 2-core machine a
            # poller spinning through a respawn that takes hundreds of ms
            # would take a CPU from the very master measured.
            if now < spin_until:
                os.sched_yield()
            else:
                time.sleep(0.0002 if now - t0 < 0.05 else 0.001)

    def loop_sched(self):
        """(ns on a CPU, ns runnable but waiting) of the master's loop thread."""
        return [int(x) for x in B.read_small(self.loop_schedstat).split()[:2]]

    def appctl_ping(self, cond):
        out, err = os.path.join(self.work, "out"), os.path.join(self.work, "err")
        wall, _cpu, code = B.spawn_timed([APPCTL, "--socket", self.d.socket, "ping"], out, err)
        with open(out, errors="replace") as f:
            ok = code == 0 and "pong" in f.read()
        if ok:
            cond.appctl_pings.append(wall)
        else:
            cond.appctl_failures += 1

    def measure(self, cond, log_meter=None):
        """The kill/ping window of one condition."""
        a = self.args
        ping = PingClient(self.d.socket)
        appctl_every = max(1, math.ceil(a.kills / a.appctl_pings)) if a.appctl_pings else 0
        cpu = CpuWindow(self.d.pid)
        if log_meter:
            log_meter.start()
        deadline = time.monotonic() + a.max_seconds
        try:
            for k in range(a.kills):
                if time.monotonic() > deadline:
                    cond.cut_short = True
                    print(f"load-latency: {cond.name}: --max-seconds {a.max_seconds:g} reached after {k} kills",
                          file=sys.stderr)
                    break
                t_kill = time.monotonic()
                self.kill_one(cond)
                if appctl_every and k % appctl_every == appctl_every // 2:
                    self.appctl_ping(cond)
                # Pings at random moments until the next kill is due; at
                # least one per kill, however slow they are.
                next_kill = t_kill + a.kill_interval
                moments = sorted(self.rng.uniform(time.monotonic(), next_kill) for _ in range(a.pings_per_kill))
                for j, at in enumerate(moments):
                    pause = at - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    elif j and time.monotonic() > next_kill:
                        break
                    try:
                        sched0 = self.loop_sched()
                        cond.pings.append(ping.ping())
                        sched1 = self.loop_sched()
                        cond.ping_oncpu.append((sched1[0] - sched0[0]) / 1e9)
                        cond.ping_waited.append((sched1[1] - sched0[1]) / 1e9)
                    except (OSError, ValueError) as e:
                        cond.ping_failures += 1
                        print(f"load-latency: {cond.name}: ping: {e}", file=sys.stderr)
                        ping.close()
                        ping = PingClient(self.d.socket)
                if log_meter:
                    log_meter.maybe_truncate()
                pause = next_kill - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                if cond.failures > max(3, a.kills // 5):
                    raise RuntimeError(f"{cond.name}: too many respawns missed; see above")
        finally:
            ping.close()
        cond.cpu = cpu.end()
        if log_meter:
            cond.flood = log_meter.stop()

    def status_runs(self, cond, n_expected):
        """`appctl status --group big --json` timed whole, and the raw answer."""
        out, err = os.path.join(self.work, "out"), os.path.join(self.work, "err")
        argv = [APPCTL, "--socket", self.d.socket, "status", "--group", "big", "--json"]
        deadline = time.monotonic() + self.args.status_seconds
        for i in range(self.args.status_runs + 1):  # the first is a warm-up
            if len(cond.status_wall) >= 3 and time.monotonic() > deadline:
                cond.status_cut_short = True
                break
            wall, _cpu, code = B.spawn_timed(argv, out, err)
            try:
                if code != 0:
                    raise ValueError(f"exit {code}")
                with open(out) as f:
                    n = len(running(json.load(f)["processes"]))
                if n != n_expected:
                    raise ValueError(f"{n} running, wanted {n_expected}")
            except (ValueError, KeyError) as e:
                cond.status_failures += 1
                print(f"load-latency: {cond.name}: appctl status: {e}", file=sys.stderr)
                continue
            if i:
                cond.status_wall.append(wall)
        cond.status_raw = raw_status(self.d.socket, "big", max(2, len(cond.status_wall) + 1))[1:]


# ---------------------------------------------------------------- output

def ms(v):
    return "–" if v is None else f"{v * 1000:.2f} ms"


def ratio(v, base):
    return "–" if v is None or not base else f"{v / base:.1f}×"


def get(r, key, field):
    return r.get(key, {}).get(field)


def verdict(v, goal):
    return "–" if v is None else ("met" if v <= goal else "NOT met")


LABELS = {
    "idle": "(a) idle: small group only",
    "flood": "(b) log flood",
    "1000": "1000 workers, no clients",
    "1000+watch": "(c) 10 status watchers, 1000 workers",
    "idle-again": "idle again (drift check)",
}


def label(name, args):
    if name == "flood":
        what = f"`yes` of a {len(args.flood_line.encode()) + 1}-byte line" if args.flood_line else "`yes`"
        return f"(b) log flood: {args.flood_workers} × {what} → logFile"
    if name == "1000":
        return f"{args.big} workers, no clients"
    if name == "1000+watch":
        return f"(c) {args.watchers} × `status` watch {args.watch:g} s, {args.big} workers"
    return LABELS[name]


def print_report(results, args, meta):
    names = [n for n in args.conditions if n in results]
    base = results.get("idle", {})
    print(f"### Master latency under load: respawn after kill -9 and `ping`, appd "
          f"(per condition up to {args.kills} kills, ≥ {args.kill_interval:g} s apart, "
          f"and up to {args.pings_per_kill} pings after each)\n")
    print("| condition | respawn n | median | p90 | p99 | max | failed | median vs idle | p99 vs idle "
          "| kill→reaped | master on CPU | master waiting for a CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in names:
        r = results[n]
        s = r.get("respawn")
        if not s:
            print(f"| {label(n, args)} | 0 | – | – | – | – | {r['failures']} | – | – | – | – | – |")
            continue
        print(f"| {label(n, args)} | {s['n']} | {ms(s['median'])} | {ms(s['p90'])} | {ms(s['p99'])} | "
              f"{ms(s['max'])} | {r['failures']} | {ratio(s['median'], get(base, 'respawn', 'median'))} | "
              f"{ratio(s['p99'], get(base, 'respawn', 'p99'))} | {ms(r.get('reaped_median'))} | "
              f"{ms(r.get('respawn_oncpu_median'))} | {ms(r.get('respawn_waited_median'))} |")
    print()
    print("| condition | ping n | median | p90 | p99 | max | failed | median vs idle | p99 vs idle "
          "| master on CPU | master waiting for a CPU | `appctl ping` n | median | max |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in names:
        r = results[n]
        s, c = r.get("ping"), r.get("appctl_ping")
        cells = ["0", "–", "–", "–", "–", str(r["ping_failures"]), "–", "–", "–", "–"] if not s else [
            str(s["n"]), ms(s["median"]), ms(s["p90"]), ms(s["p99"]), ms(s["max"]), str(r["ping_failures"]),
            ratio(s["median"], get(base, "ping", "median")), ratio(s["p99"], get(base, "ping", "p99")),
            ms(r.get("ping_oncpu_median")), ms(r.get("ping_waited_median"))]
        cells += ["0", "–", "–"] if not c else [str(c["n"]), ms(c["median"]), ms(c["max"])]
        print(f"| {label(n, args)} | " + " | ".join(cells) + " |")
    print("\n`ping`: a raw client on a persistent connection, request written → reply line read (no client "
          "start-up). `appctl ping`: the whole command, posix_spawn() to wait4(); "
          f"up to {args.appctl_pings} per condition, so its p99 is not shown. kill→reaped, master on CPU, master "
          "waiting for a CPU: medians per kill or ping, from the poller and from the master's loop thread's "
          "/proc/PID/task/PID/schedstat (time it ran, and time it was runnable but had no CPU).")
    short = [n for n in names if results[n].get("cut_short")]
    if short:
        print(f"Cut short by --max-seconds {args.max_seconds:g} (fewer than {args.kills} kills): "
              + ", ".join(label(n, args) for n in short) + ".")

    print("\n| condition | master CPU (all threads) | loop thread on CPU | loop thread waiting for a CPU | "
          "master threads | load |")
    print("|---|---|---|---|---|---|")
    for n in names:
        r = results[n]
        c = r["cpu"]
        if n == "flood" and r.get("flood"):
            f = r["flood"]
            lines = f"≈ {f['lines_per_s'] / 1e6:.2f} M lines/s" if f.get("lines_per_s") else "? lines/s"
            load = (f"log file grew {f['bytes_per_s'] / 2**20:.0f} MiB/s ({lines} of ≈ "
                    f"{f['avg_line_bytes'] or 0:.0f} B); {f['dropped_lines']} lines dropped by the log writer "
                    f"({f['drop_markers']} markers)")
        elif n == "1000+watch" and r.get("watch"):
            w = r["watch"]
            load = (f"{w['snapshots']} snapshots in {w['window_s']:.1f} s ({w['snapshots_per_s']:.1f}/s over "
                    f"{w['clients']} clients, {w['per_client_per_s']:.1f}/s each; wanted "
                    f"{1 / args.watch:.0f}); interval median {ms(w['interval_median'])}, max "
                    f"{ms(w['interval_max'])}; {w['mib_per_s']:.1f} MiB/s read; "
                    f"{w['errors']} errors, {w['closed']} closed by appd; watchers' CPU {w['cpu_share']:.0%}")
        elif n.startswith("1000"):
            load = f"{meta.get('big_fds', '?')} master fds"
        else:
            load = "–"
        print(f"| {label(n, args)} | {c['cpu_share']:.0%} | {c['loop_cpu_share']:.0%} | "
              f"{c['loop_wait_share']:.0%} | {c['threads']} | {load} |")
    print("\nShares of one CPU over each condition's kill/ping window (the kills and pings included): "
          "the master's utime + stime from /proc/PID/stat, and its loop thread's schedstat.")

    print(f"\n| {args.big} workers | `appctl status --group big --json` n | median | p90 | p99 | max | "
          f"daemon alone (raw socket) median | p90 |")
    print("|---|---|---|---|---|---|---|---|")
    for n in ("1000", "1000+watch"):
        r = results.get(n)
        if not r:
            continue
        s, raw = r.get("status_wall"), r.get("status_raw")
        if not s:
            print(f"| {label(n, args)} | 0 | – | – | – | – | {ms(get(r, 'status_raw', 'median'))} | – |")
            continue
        print(f"| {label(n, args)} | {s['n']} | {ms(s['median'])} | {ms(s['p90'])} | {ms(s['p99'])} | "
              f"{ms(s['max'])} | {ms(raw['median'] if raw else None)} | {ms(raw['p90'] if raw else None)} |")
    short = [n for n in ("1000", "1000+watch") if results.get(n, {}).get("status_cut_short")]
    if short:
        print(f"\nCut short by --status-seconds {args.status_seconds:g} (fewer than {args.status_runs} runs): "
              + ", ".join(label(n, args) for n in short) + ".")
    if meta.get("big_up_s") is not None:
        print(f"\n{args.big} workers: all running after {meta['big_up_s']:.2f} s (`appctl scale big {args.big}` "
              f"→ `appctl status --json` shows {args.big} running); after `scale big 0` all gone in "
              f"{meta['big_down_s']:.2f} s, {meta['big_leftovers']} left over. RLIMIT_NOFILE "
              f"{meta['nofile'][0]} (soft) / {meta['nofile'][1]} (hard).")
    print(f"Load average: {meta['load_before']} before, {meta['load_after']} after. {meta['machine']}.")

    print("\nGoals (issue \"A master that nothing can stall\"), medians (and p99):")
    for n in LOADED:
        r = results.get(n)
        if not r:
            continue
        for key, goal, what in (("respawn", GOAL_RESPAWN, "respawn"), ("ping", GOAL_PING, "ping")):
            med, p99 = get(r, key, "median"), get(r, key, "p99")
            print(f"- {what} ≤ {goal * 1000:g} ms under {label(n, args)}: {verdict(med, goal)} "
                  f"(median {ms(med)}; p99 {ms(p99)}: {verdict(p99, goal)})")
    for n in ("1000", "1000+watch"):
        r = results.get(n)
        if r:
            med = get(r, "status_wall", "median")
            print(f"- `appctl status --json` of {args.big} workers ≤ {GOAL_STATUS * 1000:g} ms, "
                  f"{label(n, args)}: {verdict(med, GOAL_STATUS)} (median {ms(med)})")


# ------------------------------------------------------------------- main

def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        raise SystemExit(f"load-latency: the master needs about {need} fds with these counts "
                         f"(3 per worker), and RLIMIT_NOFILE's hard limit is {hard}: raise it (ulimit -Hn)")
    if soft < need and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=30, help="kills per condition (default 30)")
    ap.add_argument("--kill-interval", type=float, default=0.4, help="s from one kill to the next (default 0.4)")
    ap.add_argument("--pings-per-kill", type=int, default=10, help="raw pings between two kills (default 10)")
    ap.add_argument("--appctl-pings", type=int, default=10, help="`appctl ping` per condition (default 10)")
    ap.add_argument("--small", type=int, default=16, help="processes in the victims' group (default 16)")
    ap.add_argument("--min-age", type=float, default=1.5, help="minimum victim age in s (default 1.5)")
    ap.add_argument("--timeout", type=float, default=10.0, help="give up on one respawn after s (default 10)")
    ap.add_argument("--spin-ms", type=float, default=5.0,
                    help="busy-poll for a respawn this long, then poll every 0.2 ms (default 5)")
    ap.add_argument("--max-seconds", type=float, default=40.0,
                    help="cut a condition's kills short after this many s (default 40)")
    ap.add_argument("--big", type=int, default=1000, help="workers of the big group (default 1000)")
    ap.add_argument("--watchers", type=int, default=10, help="status watch clients (default 10)")
    ap.add_argument("--watch", type=float, default=0.1, help="their watch interval in s (default 0.1)")
    ap.add_argument("--status-runs", type=int, default=20,
                    help="timed `appctl status --json` of the big group, per 1000-worker condition (default 20)")
    ap.add_argument("--status-seconds", type=float, default=15.0,
                    help="cut those short after this many s (at least 3 runs; default 15)")
    ap.add_argument("--flood-workers", type=int, default=1, help="`yes` processes in the flood (default 1)")
    ap.add_argument("--flood-line", default="", help="what `yes` repeats (default: its own `y`)")
    ap.add_argument("--log-cap", type=int, default=512, help="truncate the log file past this many MiB (default 512)")
    ap.add_argument("--settle", type=float, default=1.0, help="wait after each condition is set up, s (default 1)")
    ap.add_argument("--up-timeout", type=float, default=180.0, help="s to wait for the big group (default 180)")
    ap.add_argument("--conditions", default=",".join(CONDITIONS),
                    help="comma-separated subset, in this order, of " + ",".join(CONDITIONS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="also write the results as JSON to this file")
    args = ap.parse_args()
    args.conditions = [c for c in CONDITIONS if c in args.conditions.split(",")]
    B.install_cleanup()
    if not os.access(APPCTL, os.X_OK):
        raise SystemExit(f"{APPCTL} not built: swift build -c release -Xswiftc -static-executable --scratch-path .build-bench")
    limit = max(10, 2 * args.small)  # appd's restart intensity: restarts per 10 s per group
    if 10.0 / args.kill_interval > 0.8 * limit:
        raise SystemExit(f"load-latency: {10 / args.kill_interval:.0f} kills per 10 s would come close to appd's "
                         f"restart intensity limit for a group of {args.small} ({limit} in 10 s): "
                         f"raise --kill-interval or --small")
    nofile = raise_nofile(3 * (args.small + args.big + args.flood_workers) + 256)

    flood_command = ["yes", args.flood_line] if args.flood_line else ["yes"]
    d = LoadAppd(args.small, flood_command)
    meta = {"machine": B.machine_line(), "nofile": nofile,
            "load_before": " ".join(open("/proc/loadavg").read().split()[:3])}
    results = {}
    bench = None
    watchers = None
    try:
        print(f"load-latency: starting appd with {args.small} sleep workers ...", file=sys.stderr)
        d.start()
        d.wait_children(timeout=60)
        _, pids = wait_group(d, "small", args.small, 60)
        bench = Bench(d, args)
        bench.refresh_small(pids)
        for name in args.conditions:
            cond = Condition(name)
            meter = None
            if name == "flood":
                print(f"load-latency: flood: scale flood {args.flood_workers} ...", file=sys.stderr)
                scale(d, "flood", args.flood_workers)
                wait_group(d, "flood", args.flood_workers, 60)
                meter = LogMeter(d.log_path, args.log_cap << 20)
            elif name in ("1000", "1000+watch") and "big_pids" not in meta:
                print(f"load-latency: scale big {args.big}; waiting for all to run ...", file=sys.stderr)
                t0 = time.monotonic()
                scale(d, "big", args.big)
                _, big = wait_group(d, "big", args.big, args.up_timeout)
                meta["big_up_s"] = time.monotonic() - t0
                meta["big_pids"] = big
                meta["big_lines"] = {p: B.cmdline(p) for p in big}
                d.children()  # benchlib records them, so that stop() could kill leftovers by pid
                meta["big_fds"] = len(os.listdir(f"/proc/{d.pid}/fd"))
            time.sleep(args.settle)
            if name == "1000+watch":
                print(f"load-latency: 1000+watch: {args.watchers} watchers ...", file=sys.stderr)
                watchers = Watchers(d.socket, args.watchers, args.watch)
                watchers.wait_ready(60)
                time.sleep(args.settle)
                watchers.start_window()
            print(f"load-latency: {name}: {args.kills} kills ...", file=sys.stderr)
            bench.measure(cond, meter)
            if watchers:
                watchers.end_window()
            if name == "1000+watch":
                # status while the watchers still stream, then stop them
                bench.status_runs(cond, args.big)
                w = watchers.finish()
                watchers = None
                snaps = sum(c["snapshots"] for c in w["clients"])
                intervals = [i for c in w["clients"] for i in c["intervals"]]
                cond.watch = {
                    "clients": len(w["clients"]), "window_s": w["window_s"], "snapshots": snaps,
                    "snapshots_per_s": snaps / w["window_s"], "per_client_per_s": snaps / w["window_s"] / len(w["clients"]),
                    "interval_median": statistics.median(intervals) if intervals else None,
                    "interval_max": max(intervals) if intervals else None,
                    "mib_per_s": sum(c["bytes"] for c in w["clients"]) / 2**20 / w["window_s"],
                    "errors": sum(c["errors"] for c in w["clients"]),
                    "closed": sum(1 for c in w["clients"] if c["closed"]),
                    "cpu_share": w["cpu_s"] / w["window_s"],
                }
            elif name == "1000":
                bench.status_runs(cond, args.big)
            if name == "flood":
                scale(d, "flood", 0)
                wait_group(d, "flood", 0, 60)
                os.truncate(d.log_path, 0)
            results[name] = cond.result()
            # Stop the big group once no later condition wants it.
            later = args.conditions[args.conditions.index(name) + 1:]
            if "big_pids" in meta and "big_down_s" not in meta and not any(c.startswith("1000") for c in later):
                print("load-latency: scale big 0 ...", file=sys.stderr)
                t0 = time.monotonic()
                scale(d, "big", 0)
                wait_group(d, "big", 0, 60)
                left = wait_gone(meta["big_pids"], meta["big_lines"], 30)
                meta["big_down_s"] = time.monotonic() - t0
                meta["big_leftovers"] = len(left)
        meta["load_after"] = " ".join(open("/proc/loadavg").read().split()[:3])
    finally:
        if watchers:
            watchers.kill()
        d.stop()
        if bench:
            shutil.rmtree(bench.work, ignore_errors=True)

    print_report(results, args, meta)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": {k: v for k, v in vars(args).items() if k != "json"}, "results": results,
                       "meta": {k: v for k, v in meta.items() if k not in ("big_pids", "big_lines")},
                       "goals": {"respawn": GOAL_RESPAWN, "ping": GOAL_PING, "status": GOAL_STATUS}},
                      f, indent=2, default=str)
    bad = any(r["failures"] or r["ping_failures"] or r["status_failures"] or "respawn" not in r
              for r in results.values())
    return 1 if bad or meta.get("big_leftovers") else 0


if __name__ == "__main__":
    sys.exit(main())
