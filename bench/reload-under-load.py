#!/usr/bin/env python3
"""Failed requests and request latency during a rolling reload under load:
appd against gunicorn's own `kill -HUP` reload, in one run, on the same
trivial WSGI app that takes --boot seconds (default 2) to import.

Peers, one case at a time (the same case for both, back to back):

  appd      a group of `count` (1 or 4) gunicorn masters, each run as a
            single-process server (`--workers 1`), all sharing one listening
            socket that appd binds (`listen: tcp://127.0.0.1:PORT`) and hands
            down as fd 3: gunicorn's arbiter takes LISTEN_FDS/LISTEN_PID by
            itself (gunicorn/systemd.py listen_fds(), called from
            Arbiter.start()), no `--bind`. `readiness: "notify"`: gunicorn
            sends READY=1 itself (systemd.sd_notify, from Arbiter.start()) —
            but before it forks its workers, so without --preload READY=1
            would come before the app is imported. The appd peer therefore
            runs gunicorn with `--preload`: the import (the boot time) happens
            in the arbiter before READY=1, and each reload starts a brand-new
            gunicorn process that imports the app afresh. (--appd-after-seconds S
            instead runs it without --preload and with readiness
            {afterSeconds: S}, and without NOTIFY_SOCKET: appd counts a
            READY=1 as ready under afterSeconds too.) The reload is `appctl reload --group web`,
            which returns when appd says the reload ended (exit code checked).
  gunicorn  one gunicorn master, `--workers count`, bound to 127.0.0.1:PORT,
            no --preload (so every new worker imports the app and pays the
            boot time, as a real deploy does). The reload is `kill -HUP`:
            gunicorn forks `count` new workers and sends TERM to the old ones
            at once, without waiting for the new ones to boot.

Cases: count 1 and 4, each with (a) a new TCP connection per request
(`--worker-class sync` in both peers) and (b) keep-alive connections
(`--worker-class gthread --threads 4` in both peers: the sync worker closes
every connection after one response).

Load: --clients (default 8) client threads in this process hit `GET /`
continuously for the whole run. A failed request is a refused or reset
connection, a connection closed before a full response, a timeout
(--timeout, default 10 s) or a status other than 200. In keep-alive mode, a
request on a reused connection that the server closed or reset before
sending any byte of a response is retried once on a new connection, as HTTP
clients do for idempotent requests (RFC 9112 9.3.1; browsers, Go's
net/http); such requests are counted as "retried", and as failed only if the
retry fails (--no-retry counts them as failed at once). After a failed
request a client pauses 10 ms, so a refused port does not spin. Latency is
from the first send (or connect) to the last byte of the response, for the
requests that succeeded (a retried request's latency includes the retry).

Reloads: after the peer is up, the load runs for --settle s (the quiet
baseline), then --reloads (default 3) reloads, each started only when the
previous one has completed and --settle s have passed. A reload has completed
when every worker that served before it is gone, `count` new workers exist,
and each of them serves: it has answered a request (the app's reply names its
pid) or it has the app loaded (the app writes a marker file named by its pid
at the end of its import; under appd with --preload the marker is the
gunicorn master's, which forks its worker after the import); for appd also
when `appctl reload` has returned. (With keep-alive, the clients' 8
connections need not reach every new worker, so an answer alone would not
do.) Its duration is from the
command (appctl started / HUP sent) to that moment. Every request is
attributed to the reload during which it ended (from that reload's command to
the next one's, so the settle time after a reload counts as the reload's
too); requests that ended before the first reload form the baseline.

Prints per case a summary (failed requests, max and p99 latency, reload
duration: medians and maxima over the reloads, and the ratios
appd/gunicorn), then one line per reload.

Usage: bench/reload-under-load.py [--reloads 3] [--counts 1,4] [--modes close,keepalive]
         [--only appd,gunicorn] [--clients 8] [--boot 2] [--settle 2] [--json FILE]
"""

import argparse
import collections
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

APPCTL = os.environ.get("APPCTL", os.path.join(os.path.dirname(B.APPD), "appctl"))
GUNICORN = os.path.join(B.VENV_BIN, "gunicorn")
PEERS = ["appd", "gunicorn"]
MODES = {"close": "new connection per request", "keepalive": "keep-alive connections"}

SLOW_APP = '''\
import os
import time

time.sleep({boot})  # what importing a real application costs
# Tell the benchmark this process has the app loaded (keep-alive clients may
# never reach a new worker, so an answer is not the only sign of a booted one).
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "booted", str(os.getpid())), "w").close()


def app(environ, start_response):
    body = b"ok %d\\n" % os.getpid()  # the worker's pid: tells old and new workers apart
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
'''


def write_app(directory, boot):
    os.mkdir(os.path.join(directory, "booted"))
    with open(os.path.join(directory, "slowapp.py"), "w") as f:
        f.write(SLOW_APP.format(boot=boot))


def ppid(pid):
    try:
        return int(B.read_small(f"/proc/{pid}/stat").decode().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
        return None


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_class_args(mode):
    if mode == "keepalive":
        return ["--worker-class", "gthread", "--threads", "4"]
    return ["--worker-class", "sync"]


def control_socket_args():
    # gunicorn >= 24 otherwise starts a control server (a thread and a socket
    # under ~/.gunicorn), which four masters at once would share.
    return ["--no-control-socket"] if "--no-control-socket" in B._gunicorn_help() else []


# ------------------------------------------------------------------- peers

class AppdGunicorn(B.Appd):
    """appd keeping `count` single-worker gunicorn masters on one socket."""

    name = "appd"

    def __init__(self, count, mode, port, boot, after_seconds=None):
        super().__init__(count)  # writes a config we replace below
        self.port = port
        write_app(self.dir, boot)
        argv = [GUNICORN, "--workers", "1", *worker_class_args(mode)]
        if after_seconds is None:
            argv.append("--preload")
        else:
            # appd takes a READY=1 as ready under afterSeconds too, and
            # gunicorn would send one before its worker imports the app:
            # hide the notify socket (env execs gunicorn: same pid, so
            # LISTEN_PID still matches).
            argv = ["env", "-u", "NOTIFY_SOCKET", *argv]
        argv += ["--chdir", self.dir, "--worker-tmp-dir", self.dir, "--timeout", "120",
                 *control_socket_args(), "slowapp:app"]
        config = {
            "controlSocket": self.socket,
            "pidFile": os.path.join(self.dir, "appd.pid"),
            "statusFile": os.path.join(self.dir, "appd.status"),
            "logFile": os.path.join(self.dir, "appd.log"),
            "stopTimeout": 10,
            "groups": [{
                "name": "web",
                "command": argv,
                "count": count,
                "listen": [f"tcp://127.0.0.1:{port}"],
                "readiness": "notify" if after_seconds is None else {"afterSeconds": after_seconds},
                "readyTimeout": 60,
                "stopSignal": "TERM",
                "stopTimeout": 10,
            }],
        }
        with open(self.config, "w") as f:
            json.dump(config, f, indent=2)

    def masters(self):
        return self.children()

    def workers(self):
        """The processes that accept and answer: each gunicorn master's children."""
        result = set()
        for master in self.masters():
            for kid in B.children(master):
                result.add(kid)
                if kid not in self.seen:  # so that stop() can clean up after them too
                    line = B.cmdline(kid)
                    if line is not None:
                        self.seen[kid] = line
        return result

    def reload(self, timeout):
        """`appctl reload --group web`; returns (exit code, its output)."""
        try:
            r = subprocess.run([APPCTL, "--socket", self.socket, "reload", "--group", "web"],
                               capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:  # run() has killed it (its own pid) by now
            return None, f"appctl timed out after {timeout}s: {e.stdout or ''}"
        return r.returncode, (r.stdout + r.stderr).strip()


class GunicornHup(B.Supervised):
    """One gunicorn master with `count` workers, reloaded with SIGHUP."""

    name = "gunicorn"
    stop_signal = signal.SIGINT  # quick shutdown

    def __init__(self, count, mode, port, boot):
        super().__init__(count, "gunicorn-hup")
        self.port, self.mode = port, mode
        write_app(self.dir, boot)

    def argv(self):
        if not os.access(GUNICORN, os.X_OK):
            raise RuntimeError(f"{GUNICORN} missing: run bench/setup-peers.sh")
        return [GUNICORN, "--workers", str(self.count), *worker_class_args(self.mode),
                "--bind", f"127.0.0.1:{self.port}", "--chdir", self.dir,
                "--pid", os.path.join(self.dir, "gunicorn.pid"), "--worker-tmp-dir", self.dir,
                "--timeout", "120", *control_socket_args(), "slowapp:app"]

    def masters(self):
        return {self.pid}

    def workers(self):
        return self.children()

    def reload(self, timeout):
        os.kill(self.pid, signal.SIGHUP)
        return 0, "kill -HUP"


# -------------------------------------------------------------------- load

REQUEST_CLOSE = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
REQUEST_KEEPALIVE = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


class Failure(Exception):
    def __init__(self, kind, before_response):
        super().__init__(kind)
        self.kind = kind
        self.before_response = before_response  # no byte of a response arrived


class Client(threading.Thread):
    """One client: a request at a time, continuously, until told to stop.
    records: (start, end, failure kind or None, worker pid or 0, retried)."""

    def __init__(self, port, keepalive, timeout, retry, stop, answered):
        super().__init__(daemon=True)
        self.port, self.keepalive, self.timeout, self.retry = port, keepalive, timeout, retry
        self.stop, self.answered = stop, answered
        self.records = []
        self.sock = None
        self.reused = False  # the current connection has carried a request already

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        self.sock.settimeout(left)
        return self.sock.recv(65536)

    def exchange(self, deadline):
        """One request/response on self.sock (connecting first if needed).
        Returns (status, body, server closes)."""
        if self.sock is None:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock.settimeout(max(0.001, deadline - time.monotonic()))
            self.sock.connect(("127.0.0.1", self.port))
            self.reused = False
        self.sock.settimeout(max(0.001, deadline - time.monotonic()))
        self.sock.sendall(REQUEST_KEEPALIVE if self.keepalive else REQUEST_CLOSE)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.recv(deadline)
            if not chunk:
                raise Failure("closed" if not buf else "truncated", not buf)
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length, closes = None, not self.keepalive
        for line in lines[1:]:
            key, _, value = line.partition(b":")
            key = key.strip().lower()
            if key == b"content-length":
                length = int(value)
            elif key == b"connection" and value.strip().lower() == b"close":
                closes = True
        if length is None:  # to the end of the connection
            closes = True
            while True:
                chunk = self.recv(deadline)
                if not chunk:
                    break
                body += chunk
        else:
            while len(body) < length:
                chunk = self.recv(deadline)
                if not chunk:
                    raise Failure("truncated", False)
                body += chunk
        return status, body, closes

    def attempt(self, deadline):
        """One attempt; returns (failure kind or None, pid, failed before any response byte)."""
        try:
            status, body, closes = self.exchange(deadline)
        except Failure as e:
            self.close()
            return e.kind, 0, e.before_response
        except socket.timeout:
            self.close()
            return "timeout", 0, False
        except ConnectionRefusedError:
            self.close()
            return "refused", 0, True
        except (ConnectionResetError, BrokenPipeError):
            self.close()
            return "reset", 0, True
        except OSError as e:
            self.close()
            return f"error {e.errno}", 0, False
        except (ValueError, IndexError):
            self.close()
            return "bad response", 0, False
        if closes or not self.keepalive:
            self.close()
        else:
            self.reused = True
        if status != 200:
            return f"HTTP {status}", 0, False
        try:
            pid = int(body.split()[1])
        except (ValueError, IndexError):
            return "bad body", 0, False
        return None, pid, False

    def run(self):
        try:
            while not self.stop.is_set():
                start = time.monotonic()
                deadline = start + self.timeout
                reused = self.sock is not None and self.reused
                kind, pid, before_response = self.attempt(deadline)
                retried = False
                if kind is not None and self.retry and reused and before_response and kind != "refused":
                    # The server closed a kept-alive connection under us before it
                    # answered: what an HTTP client does is retry once on a new one.
                    retried = True
                    kind, pid, _ = self.attempt(deadline)
                end = time.monotonic()
                self.records.append((start, end, kind, pid, retried))
                if kind is None:
                    self.answered[pid] = end
                else:
                    time.sleep(0.01)
        finally:
            self.close()


class Load:
    def __init__(self, port, clients, keepalive, timeout, retry):
        self.stop = threading.Event()
        self.answered = {}  # worker pid -> when it last answered
        self.clients = [Client(port, keepalive, timeout, retry, self.stop, self.answered)
                        for _ in range(clients)]
        self.timeout = timeout

    def start(self):
        self.t0 = time.monotonic()
        for c in self.clients:
            c.start()
        return self

    def finish(self):
        self.stop.set()
        for c in self.clients:
            c.join(self.timeout + 5)
        self.t1 = time.monotonic()
        if any(c.is_alive() for c in self.clients):
            raise RuntimeError("a client thread did not finish")
        return sorted(r for c in self.clients for r in c.records)


# ------------------------------------------------------------------ a run

def probe(port, timeout=2.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(REQUEST_CLOSE)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def wait_up(sup, timeout):
    """Until `count` workers exist (one per gunicorn master under appd) and one answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sup.proc.poll() is not None:
            raise RuntimeError(f"{sup.name} exited with {sup.proc.returncode}: {sup.log_tail()}")
        masters = sup.masters()
        if len(masters) == (sup.count if sup.name == "appd" else 1) and len(sup.workers()) == sup.count:
            if probe(sup.port):
                return
        time.sleep(0.05)
    raise RuntimeError(f"{sup.name}: not up after {timeout}s: {sup.log_tail()}")


def serving(sup, load, worker, since):
    """The worker has answered a request since `since`, or it has the app
    loaded: the app's marker for its own pid (gunicorn workers without
    --preload) or for its gunicorn master's (--preload under appd: the worker
    is forked after the import)."""
    if load.answered.get(worker, -1.0) >= since:
        return True
    booted = os.path.join(sup.dir, "booted")
    if os.path.exists(os.path.join(booted, str(worker))):
        return True
    parent = ppid(worker)
    return parent is not None and os.path.exists(os.path.join(booted, str(parent)))


def wait_replaced(sup, load, old_masters, old_workers, since, deadline):
    """Until every old worker (and, under appd, every old gunicorn master) is
    gone and there are `count` new workers, each serving (see serving()).
    Returns the time it became true, or None at the deadline."""
    while time.monotonic() < deadline:
        masters = sup.masters()
        workers = sup.workers()
        if (len(workers) == sup.count and not workers & old_workers
                and not (sup.name == "appd" and masters & old_masters)
                and all(serving(sup, load, w, since) for w in workers)):
            return time.monotonic()
        if sup.proc.poll() is not None:
            raise RuntimeError(f"{sup.name} exited with {sup.proc.returncode} during a reload")
        time.sleep(0.02)
    return None


def window_stats(records, t0=None):
    ok = [r[1] - r[0] for r in records if r[2] is None]
    failed = [r for r in records if r[2] is not None]
    kinds = collections.Counter(r[2] for r in failed)
    out = {
        "requests": len(records),
        "failed": len(failed),
        "failed_kinds": dict(kinds),
        "retried": sum(1 for r in records if r[4]),
        "max": max(ok) if ok else None,
        "p99": B.percentile(ok, 99) if ok else None,
        "median": statistics.median(ok) if ok else None,
    }
    if ok and t0 is not None:  # when the slowest request started, from the reload's command
        slowest = max((r for r in records if r[2] is None), key=lambda r: r[1] - r[0])
        out["max_at"] = slowest[0] - t0
    if failed:  # from the first failed request's start to the last one's end
        out["failure_span"] = max(r[1] for r in failed) - min(r[0] for r in failed)
    return out


def run_peer(peer, count, mode, args):
    port = free_port()
    if peer == "appd":
        sup = AppdGunicorn(count, mode, port, args.boot, args.appd_after_seconds)
    else:
        sup = GunicornHup(count, mode, port, args.boot)
    load = None
    reloads = []
    try:
        sup.start()
        wait_up(sup, timeout=90 + args.boot * count)
        load = Load(port, args.clients, mode == "keepalive", args.timeout, not args.no_retry).start()
        # Every worker serves before the quiet baseline starts.
        if wait_replaced(sup, load, set(), set(), load.t0, time.monotonic() + 30) is None:
            raise RuntimeError(f"{sup.name}: not every worker serving within 30 s")
        time.sleep(args.settle)
        for i in range(args.reloads):
            old_masters, old_workers = sup.masters(), sup.workers()
            t0 = time.monotonic()
            code, output = sup.reload(args.reload_timeout)
            t_cmd = time.monotonic()
            done = wait_replaced(sup, load, old_masters, old_workers, t0, t0 + args.reload_timeout)
            reloads.append({"t0": t0, "command_s": t_cmd - t0, "exit": code, "output": output,
                            "done": done, "duration": None if done is None else max(done, t_cmd) - t0})
            ok = code == 0 and done is not None
            print(f"  {peer} count {count} {mode}: reload {i + 1}/{args.reloads} "
                  f"{'done in %.2f s' % reloads[-1]['duration'] if ok else 'FAILED'}"
                  f"{'' if code == 0 else f' (exit {code}: {output})'}", file=sys.stderr)
            if done is None:
                break
            time.sleep(args.settle)
        records = load.finish()
        load_end = load.t1
    finally:
        if load is not None and not load.stop.is_set():
            load.finish()
        sup.stop()

    # Attribute each request to the reload during which it ended.
    starts = [r["t0"] for r in reloads] + [float("inf")]
    baseline = [r for r in records if r[1] < starts[0]]
    per = []
    for i, rl in enumerate(reloads):
        mine = [r for r in records if starts[i] <= r[1] < starts[i + 1]]
        s = window_stats(mine, rl["t0"])
        s.update(duration=rl["duration"], command_s=rl["command_s"], exit=rl["exit"],
                 completed=rl["exit"] == 0 and rl["done"] is not None)
        if peer == "appd":
            s["appctl_output"] = rl["output"]
        per.append(s)
    during = [r for r in records if r[1] >= starts[0]]
    return {
        "port": port,
        "requests": len(records),
        "rate": len(records) / (load_end - load.t0) if records else 0,
        "baseline": window_stats(baseline),
        "overall": window_stats(during),
        "reloads": per,
    }


# ------------------------------------------------------------------ output

def fmt_s(x):
    if x is None:
        return "–"
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"


def fmt_at(x):
    return "" if x is None else f" (at {x:+.2f} s)"


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def vmax(values):
    values = [v for v in values if v is not None]
    return max(values) if values else None


def ratio(a, b):
    if a is None or b is None:
        return "–"
    if b == 0:
        return "– (both 0)" if a == 0 else "∞ (gunicorn 0)"
    return f"{a / b:.2f}×"


def peer_summary(r):
    per = r["reloads"]
    return {
        "reloads": len(per),
        "completed": sum(1 for p in per if p["completed"]),
        "failed_total": r["overall"]["failed"],
        "failed_median": med([p["failed"] for p in per]),
        "failed_max": vmax([p["failed"] for p in per]),
        "retried_total": r["overall"]["retried"],
        "max_median": med([p["max"] for p in per]),
        "max_max": r["overall"]["max"],
        "p99_median": med([p["p99"] for p in per]),
        "p99_overall": r["overall"]["p99"],
        "duration_median": med([p["duration"] for p in per]),
        "duration_max": vmax([p["duration"] for p in per]),
    }


def print_report(results, args, notes):
    print(f"### Rolling reload under load ({args.clients} clients, GET / continuously; "
          f"app boot {args.boot:g} s; {args.reloads} reloads per case)\n")
    print("| case | peer | reloads done | requests in reload windows (req/s, whole run) | failed: total / median / max per reload "
          "| keep-alive retries | max latency: median / max of reloads | p99: median of reloads / pooled "
          "| reload duration: median / max | baseline p99 / max (failed) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    summaries = {}
    for case, peers in results.items():
        for peer, r in peers.items():
            s = summaries.setdefault(case, {})[peer] = peer_summary(r)
            b = r["baseline"]
            print(f"| {case} | {peer} | {s['completed']}/{args.reloads} | {r['overall']['requests']} "
                  f"({r['rate']:.0f}) | {s['failed_total']} / {s['failed_median']:g} / {s['failed_max']} | "
                  f"{s['retried_total']} | {fmt_s(s['max_median'])} / {fmt_s(s['max_max'])} | "
                  f"{fmt_s(s['p99_median'])} / {fmt_s(s['p99_overall'])} | "
                  f"{fmt_s(s['duration_median'])} / {fmt_s(s['duration_max'])} | "
                  f"{fmt_s(b['p99'])} / {fmt_s(b['max'])} ({b['failed']}) |")
    if all(len(p) == 2 for p in summaries.values()):
        print("\nRatios appd / gunicorn (below 1: appd better):\n")
        print("| case | failed requests (total) | max latency (median of reloads) | p99 (pooled) "
              "| reload duration (median) |")
        print("|---|---|---|---|---|")
        for case, s in summaries.items():
            a, g = s["appd"], s["gunicorn"]
            print(f"| {case} | {a['failed_total']} / {g['failed_total']} = {ratio(a['failed_total'], g['failed_total'])} "
                  f"| {ratio(a['max_median'], g['max_median'])} | {ratio(a['p99_overall'], g['p99_overall'])} "
                  f"| {ratio(a['duration_median'], g['duration_median'])} |")
    print("\nEach reload:\n")
    print("| case | peer | # | duration | command | requests | failed (kinds) | retried | max (its start) | p99 | failures span |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for case, peers in results.items():
        for peer, r in peers.items():
            for i, p in enumerate(r["reloads"], 1):
                kinds = ", ".join(f"{k} {n}" for k, n in sorted(p["failed_kinds"].items()))
                cmd = f"appctl {fmt_s(p['command_s'])}, exit {p['exit']}" if peer == "appd" else "kill -HUP"
                print(f"| {case} | {peer} | {i} | {fmt_s(p['duration'])}{'' if p['completed'] else ' (NOT completed)'} "
                      f"| {cmd} | {p['requests']} | {p['failed']}{f' ({kinds})' if kinds else ''} | {p['retried']} "
                      f"| {fmt_s(p['max'])}{fmt_at(p.get('max_at'))} | {fmt_s(p['p99'])} | {fmt_s(p.get('failure_span'))} |")
    print()
    for n in notes:
        print(f"- {n}")
    return summaries


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reloads", type=int, default=3, help="reloads per case and peer (default 3)")
    ap.add_argument("--counts", default="1,4", help="process counts (default 1,4)")
    ap.add_argument("--modes", default="close,keepalive", help="close (new connection per request), keepalive")
    ap.add_argument("--only", default=",".join(PEERS), help="comma-separated subset of appd,gunicorn")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    ap.add_argument("--boot", type=float, default=2.0, help="the app's import time in s (default 2)")
    ap.add_argument("--settle", type=float, default=2.0, help="load before the first and after each reload, s (default 2)")
    ap.add_argument("--timeout", type=float, default=10.0, help="a request taking longer has failed, s (default 10)")
    ap.add_argument("--reload-timeout", type=float, default=120.0, help="give up on one reload after s (default 120)")
    ap.add_argument("--no-retry", action="store_true", help="keep-alive: count a request the server dropped as failed, no retry")
    ap.add_argument("--appd-after-seconds", type=float, default=None, metavar="S",
                    help="appd peer: gunicorn without --preload and readiness {afterSeconds: S} instead of notify")
    ap.add_argument("--json", help="also write the results as JSON to this file")
    args = ap.parse_args()
    B.install_cleanup()

    peers = args.only.split(",")
    if "appd" in peers and not os.access(APPCTL, os.X_OK):
        raise SystemExit(f"{APPCTL} not built: swift build -c release -Xswiftc -static-executable --scratch-path .build-bench")
    counts = [int(c) for c in args.counts.split(",")]
    modes = args.modes.split(",")
    for m in modes:
        if m not in MODES:
            raise SystemExit(f"unknown mode {m}: close or keepalive")

    version = subprocess.run([GUNICORN, "--version"], capture_output=True, text=True).stdout.strip()
    results = {}
    for count in counts:
        for mode in modes:
            case = f"count {count}, {MODES[mode]}"
            print(f"reload-under-load: {case} ...", file=sys.stderr)
            results[case] = {peer: run_peer(peer, count, mode, args) for peer in peers}

    appd_ready = ("`readiness: \"notify\"`, gunicorn `--preload` (its arbiter sends READY=1 after the import, "
                  "before forking its worker)" if args.appd_after_seconds is None else
                  f"`readiness: {{afterSeconds: {args.appd_after_seconds:g}}}`, gunicorn without `--preload` "
                  "and without NOTIFY_SOCKET")
    notes = [
        f"{version}. appd: a group of `count` gunicorn masters, each `--workers 1`, on one socket appd binds "
        f"and hands down (LISTEN_FDS); {appd_ready}; reload = `appctl reload --group web`. gunicorn: one master, "
        f"`--workers count`, no `--preload`; reload = `kill -HUP` (new workers forked, old ones sent TERM at once).",
        "Worker class: `sync` for a new connection per request, `gthread --threads 4` for keep-alive (both peers).",
        "A reload's window runs from its command to the next reload's (it includes the settle time after it); "
        "duration = until every old worker is gone and each new one has answered or has the app loaded "
        "(appd: and appctl returned). "
        "Latency figures are over the requests that succeeded; failed ones are counted, not timed.",
        "Keep-alive retries: requests on a reused connection that the server closed before answering, retried "
        "once on a new connection" + (" (disabled: --no-retry)." if args.no_retry else "; not failures unless the retry failed."),
        f"Machine: {B.machine_line()}; load average {open('/proc/loadavg').read().split()[:3]} at the end. "
        "The clients are threads of one Python process (one core at most, with the GIL): "
        "latencies carry a few ms of client-side noise; the reload stalls are seconds.",
    ]
    summaries = print_report(results, args, notes)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"clients": args.clients, "boot": args.boot, "reloads": args.reloads,
                       "gunicorn": version, "appd_after_seconds": args.appd_after_seconds,
                       "summary": summaries, "results": results}, f, indent=2)
    incomplete = any(not p["completed"] for peers_ in results.values() for r in peers_.values() for p in r["reloads"])
    short = any(len(r["reloads"]) < args.reloads for peers_ in results.values() for r in peers_.values())
    return 1 if incomplete or short else 0


if __name__ == "__main__":
    sys.exit(main())
