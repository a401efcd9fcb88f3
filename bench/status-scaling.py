#!/usr/bin/env python3
"""How `appctl status --json` scales: 10, 100 and 1000 `sleep 1000` workers.

One appd per size, each with one group of N `sleep 1000`; all of them run at
once and the commands are interleaved across sizes (every round runs each
command once per size, in a shuffled order), so every size sees the same
machine load. Timed, after --warmup untimed rounds, as whole processes
(posix_spawn() to wait4(), stdout to a file):

  appctl ping                   floor: client start-up + one round trip
  appctl status --json          the figure of issue 4 (target: < 50 ms at 1000)
  appctl connections --json     the same /proc walk, one item per TCP connection (none here)

and, in-process, `status` over a raw socket with a persistent connection
(request written → final line read): the daemon's answer alone, without
appctl. Each row also shows appctl's own CPU time (wait4's rusage) and the
daemon's CPU time over the command (/proc/PID/schedstat of the master).

Memory: the master's VmRSS once all workers are up (+ --settle s), and its
VmRSS and VmHWM (peak) after all the status calls; plus its open fds.

With --profile, at the largest size: `strace -c` on the master over a burst
of status commands (system calls per request), and, if `perf` works,
`perf record -g` of the master and of appctl over a burst, summed into
buckets (reading /proc, encoding JSON, writing; decoding, re-encoding).

Usage: bench/status-scaling.py [--sizes 10,100,1000] [--runs 30] [--warmup 3] [--profile] [--json FILE]
"""

import argparse
import json
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
GOAL_MS = 50.0  # issue 4: status with 1000 processes
REFERENCE = [  # issue 4: NOT measured here
    ("circus `stats`", "2.5 ms per process, 360 ms at 104 processes"),
    ("parsing /proc/net/tcp alone, on a host with many TIME_WAIT sockets", "17–29 ms"),
]


# ------------------------------------------------------------------ checks

def check_status(out, n):
    doc = json.loads(out)
    ps = doc["processes"]
    running = sum(1 for p in ps if p.get("state") == "running" and p.get("pid"))
    if len(ps) != n or running != n:
        raise ValueError(f"{len(ps)} processes listed, {running} running; wanted {n}")


def check_connections(out, _n):
    doc = json.loads(out)
    if not isinstance(doc.get("connections"), list):
        raise ValueError("no connections list")


def check_pong(out, _n):
    if "pong" not in out:
        raise ValueError("no pong")


# ------------------------------------------------------------- raw client

class RawClient:
    """A persistent protocol connection (docs/PROTOCOL.md), to time the
    daemon's answer without any client start-up."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(path)
        self.lines = self.sock.makefile("rb", buffering=1 << 20)
        self.next_id = 1

    def call(self, cmd):
        """Send one request; return (seconds to the final line, items,
        seconds to the second item: for status, the first process item)."""
        rid = self.next_id
        self.next_id += 1
        request = json.dumps({"id": rid, "cmd": cmd}).encode() + b"\n"
        t0 = time.perf_counter()
        self.sock.sendall(request)
        items = 0
        second = None
        while True:
            line = self.lines.readline(2 << 20)
            if not line.endswith(b"\n"):
                raise ConnectionError("appd closed the connection")
            # Cheap test for the final line; the full parse comes after timing.
            if b'"done":true' in line:
                elapsed = time.perf_counter() - t0
                reply = json.loads(line)
                if reply.get("id") != rid or not reply.get("ok"):
                    raise ValueError(f"unexpected final line {line[:200]!r}")
                return elapsed, items, second
            items += 1
            if items == 2:
                second = time.perf_counter() - t0

    def close(self):
        self.lines.close()
        self.sock.close()


# ----------------------------------------------------------------- timing

class Series:
    def __init__(self, size, key, label):
        self.size, self.key, self.label = size, key, label
        self.wall, self.cpu, self.server, self.failures = [], [], [], []
        self.first_item = []
        self.waited = []

    def result(self):
        r = {"size": self.size, "label": self.label, "failures": len(self.failures)}
        if self.wall:
            r.update(B.summary(self.wall))
            if self.cpu:
                r["cpu_median"] = statistics.median(self.cpu)
            r["server_median"] = statistics.median(self.server)
            if self.first_item:
                r["first_item_median"] = statistics.median(self.first_item)
            if self.waited:
                r["waited_median"] = statistics.median(self.waited)
            r["samples_ms"] = [round(x * 1000, 3) for x in self.wall]
        return r


def run_command(series, argv, master, check, work, record):
    out, err = os.path.join(work, "out"), os.path.join(work, "err")
    before = B.schedstat_ns(master)
    wall, cpu, code = B.spawn_timed(argv, out, err)
    after = B.schedstat_ns(master)
    try:
        if code != 0:
            raise ValueError(f"exit {code}: {open(err).read().strip()[:300]}")
        with open(out) as f:
            check(f.read(), series.size)
    except (ValueError, KeyError, TypeError) as e:
        series.failures.append(str(e))
        print(f"status-scaling: {series.size}: {series.label}: {e}", file=sys.stderr)
        return
    if record:
        series.wall.append(wall)
        series.cpu.append(cpu)
        series.server.append((after - before) / 1e9)


def run_raw(series, client, master, record):
    before = B.schedstat_pair(master)
    try:
        elapsed, items, second = client.call("status")
        if items != series.size + 1:  # the master item, then one per process
            raise ValueError(f"{items} items, wanted {series.size + 1}")
    except (ValueError, OSError) as e:
        series.failures.append(str(e))
        print(f"status-scaling: {series.size}: raw status: {e}", file=sys.stderr)
        return
    after = B.schedstat_pair(master)
    if record:
        series.wall.append(elapsed)
        series.server.append((after[0] - before[0]) / 1e9)
        series.waited.append((after[1] - before[1]) / 1e9)
        if second is not None:
            series.first_item.append(second)


# ---------------------------------------------------------------- profile

def strace_burst(master, argv, count, work):
    """System calls of the master per command, over `count` commands."""
    if not shutil.which("strace"):
        return None
    out = os.path.join(work, "strace.txt")
    tracer = subprocess.Popen(["strace", "-c", "-o", out, "-p", str(master)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)  # attach
        for _ in range(count):
            B.spawn_timed(argv, os.path.join(work, "out"), os.path.join(work, "err"))
        time.sleep(0.2)
    finally:
        tracer.send_signal(signal.SIGINT)
        try:
            tracer.wait(timeout=10)
        except subprocess.TimeoutExpired:
            tracer.kill()
            tracer.wait(timeout=5)
    calls = {}
    try:
        with open(out) as f:
            for line in f:
                parts = line.split()
                # % time, seconds, usecs/call, calls, [errors], syscall
                if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                    calls[parts[-1]] = int(parts[3])
    except OSError:
        return None
    return {name: n / count for name, n in sorted(calls.items(), key=lambda kv: -kv[1])}


MASTER_BUCKETS = [  # (label, regex on perf's symbol column); children-inclusive shares
    ("reading /proc per worker (WorkerStatsCollector.sample)", r"WorkerStatsCollectorV6sample"),
    ("  of which open()", r"\] __GI___libc_open\b|\] __libc_open64\b|\] open64\b"),
    ("  of which readlinkat() (one per fd)", r"\] readlinkat\b"),
    ("  of which read()", r"\] (__GI___libc_read|__libc_read|read)(\s|$)"),
    ("  of which getdents64()", r"\] __x64_sys_getdents64\b"),
    ("  of which close()", r"\] __close\b"),
    ("TCP table (sock_diag or /proc/net/tcp)", r"TCPSocketTable"),
    ("encoding reply lines (Foundation JSONEncoder)", r"ControlReplyO11encodedLine"),
    ("write() to the client", r"\] __GI___libc_write\b|\] __libc_write\b"),
]
CLIENT_BUCKETS = [
    ("decoding reply lines (Foundation JSONDecoder)", r"ControlConnectionC9nextReply"),
    ("encoding the --json document (Foundation JSONEncoder)", r"WireJSONO6encode"),
]


def perf_buckets(report_text, buckets):
    shares = {}
    for label, pattern in buckets:
        best = None
        rx = re.compile(pattern)
        for line in report_text.splitlines():
            m = re.match(r"\s*([\d.]+)%\s+([\d.]+)%\s+(.*)$", line)
            if m and rx.search(m.group(3)):
                v = float(m.group(1))
                best = v if best is None else max(best, v)
        shares[label] = best
    return shares


def perf_profile(master, argv, count, work):
    """perf record -g of the master (by pid) and of appctl (by command) over
    a burst; returns bucket shares of each, or None without a working perf."""
    if not shutil.which("perf"):
        return None
    mdata, cdata = os.path.join(work, "perf.master"), os.path.join(work, "perf.client")
    burst = os.path.join(work, "burst.sh")
    with open(burst, "w") as f:
        f.write("#!/bin/sh\nfor i in $(seq %d); do \"$@\" > %s/out; done\n" % (count, work))
    os.chmod(burst, 0o700)
    rec = subprocess.Popen(["perf", "record", "-F", "4000", "-g", "-p", str(master), "-o", mdata],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        crec = subprocess.run(["perf", "record", "-F", "4000", "-g", "-o", cdata, "--", burst, *argv],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    finally:
        rec.send_signal(signal.SIGINT)
        try:
            rec.wait(timeout=30)
        except subprocess.TimeoutExpired:
            rec.kill()
            rec.wait(timeout=5)
    if rec.returncode not in (0, -signal.SIGINT) or crec.returncode != 0:
        return None

    def report(data, extra):
        r = subprocess.run(["perf", "report", "-i", data, "--children", "--sort", "symbol", "-g", "none",
                            "--stdio", *extra], capture_output=True, text=True, timeout=300)
        return r.stdout if r.returncode == 0 else ""

    mtext, ctext = report(mdata, []), report(cdata, ["--comm", "appctl"])
    if not mtext or not ctext:
        return None
    return {"master": perf_buckets(mtext, MASTER_BUCKETS), "client": perf_buckets(ctext, CLIENT_BUCKETS)}


# ------------------------------------------------------------------- main

def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10,100,1000", help="workers per appd (default 10,100,1000)")
    ap.add_argument("--runs", type=int, default=30, help="timed runs of each command per size (default 30)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    ap.add_argument("--settle", type=float, default=2.0, help="wait after all are up, s (default 2)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", action="store_true", help="strace -c and perf at the largest size")
    ap.add_argument("--profile-count", type=int, default=20, help="commands per profiling burst (default 20)")
    ap.add_argument("--json", help="also write the results as JSON to this file")
    args = ap.parse_args()
    B.install_cleanup()
    if not os.access(APPCTL, os.X_OK):
        raise SystemExit(f"{APPCTL} not built: swift build -c release -Xswiftc -static-executable --scratch-path .build-bench")
    sizes = [int(s) for s in args.sizes.split(",")]
    nofile = raise_nofile()

    daemons, clients, series = {}, {}, []
    mem, up_s, fds = {}, {}, {}
    work = tempfile.mkdtemp(prefix="appd-bench-scaling-")
    profile = {}
    try:
        for n in sizes:
            print(f"status-scaling: starting appd with {n} sleep workers ...", file=sys.stderr)
            d = B.Appd(n)
            daemons[n] = d
            t0 = time.monotonic()
            d.start()
            d.wait_children(timeout=180)
            up_s[n] = time.monotonic() - t0
        time.sleep(args.settle)
        for n, d in daemons.items():
            if len(d.children()) != n:
                raise RuntimeError(f"appd with {n}: children changed while settling")
            mem[n] = {"rss_kb_idle": B.status_field(d.pid, "VmRSS"), "anon_kb_idle": B.status_field(d.pid, "RssAnon")}
            fds[n] = len(os.listdir(f"/proc/{d.pid}/fd"))
            clients[n] = RawClient(d.socket)

        jobs = []  # (series, callable(record))
        for n, d in daemons.items():
            base = [APPCTL, "--socket", d.socket]
            for key, label, argv, check in [
                ("ping", "appctl ping", base + ["ping"], check_pong),
                ("status", "appctl status --json", base + ["status", "--json"], check_status),
                ("connections", "appctl connections --json", base + ["connections", "--json"], check_connections),
            ]:
                s = Series(n, key, label)
                series.append(s)
                jobs.append((s, lambda rec, s=s, argv=argv, d=d, check=check:
                             run_command(s, argv, d.pid, check, work, rec)))
            s = Series(n, "raw", "status over a raw socket (daemon only)")
            series.append(s)
            jobs.append((s, lambda rec, s=s, c=clients[n], d=d: run_raw(s, c, d.pid, rec)))

        rng = random.Random(args.seed)
        rounds = args.warmup + args.runs
        for i in range(rounds):
            timed = i >= args.warmup
            if i == 0 or (i + 1) % 10 == 0 or i + 1 == rounds:
                print(f"status-scaling: round {i + 1}/{rounds}{'' if timed else ' (warm-up)'}", file=sys.stderr)
            order = jobs[:]
            rng.shuffle(order)
            for _, job in order:
                job(timed)
            if sum(len(s.failures) for s in series) > max(5, args.runs // 4):
                raise RuntimeError("too many failed commands; see above")

        for n, d in daemons.items():
            mem[n].update(rss_kb_after=B.status_field(d.pid, "VmRSS"), hwm_kb=B.status_field(d.pid, "VmHWM"))
        load = open("/proc/loadavg").read().split()[:3]

        if args.profile:
            n = max(sizes)
            d = daemons[n]
            argv = [APPCTL, "--socket", d.socket, "status", "--json"]
            print(f"status-scaling: profiling status --json at {n} (strace -c, then perf) ...", file=sys.stderr)
            profile["size"] = n
            profile["strace_status"] = strace_burst(d.pid, argv, args.profile_count, work)
            profile["strace_connections"] = strace_burst(
                d.pid, [APPCTL, "--socket", d.socket, "connections", "--json"], args.profile_count, work)
            profile["perf"] = perf_profile(d.pid, argv, args.profile_count, work)
    finally:
        for c in clients.values():
            c.close()
        for d in reversed(list(daemons.values())):
            d.stop()
        shutil.rmtree(work, ignore_errors=True)

    results = {f"{s.key}@{s.size}": s.result() for s in series}

    def med(key, n, field="median"):
        return results.get(f"{key}@{n}", {}).get(field)

    print(f"### Status latency by number of workers: whole `appctl status --json`, "
          f"{'/'.join(map(str, sizes))} `sleep` workers ({args.runs} runs each, interleaved across sizes)\n")
    print("| workers | `appctl status --json` median | p90 | daemon alone (raw socket) median | "
          "its first process item at | appctl CPU | daemon CPU | `appctl ping` median | "
          "`appctl connections --json` median | p90 | daemon CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        def cell(key, field="median"):
            v = med(key, n, field)
            return B.fmt_ms(v) if v is not None else "–"
        print(f"| {n} | {cell('status')} | {cell('status', 'p90')} | {cell('raw')} | "
              f"{cell('raw', 'first_item_median')} | {cell('status', 'cpu_median')} | "
              f"{cell('status', 'server_median')} | {cell('ping')} | {cell('connections')} | "
              f"{cell('connections', 'p90')} | {cell('connections', 'server_median')} |")
    print("\nappctl CPU: the client's user+system time (wait4); daemon CPU: the master's on-CPU time over the "
          "command (/proc/PID/schedstat); first process item: when the raw client got the line after the `master` "
          "item (the items stream as soon as this arrives). Medians.")
    for n in sizes:
        if med("raw", n) is not None:
            print(f"- {n} workers, the daemon alone (raw socket): {B.fmt_ms(med('raw', n))} = "
                  f"{B.fmt_ms(med('raw', n, 'server_median'))} on a CPU + {B.fmt_ms(med('raw', n, 'waited_median'))} "
                  f"runnable but waiting for one (other processes' load) + the rest (sleeping, the client reading); "
                  f"first process item after {B.fmt_ms(med('raw', n, 'first_item_median'))}.")
    lo, hi = min(sizes), max(sizes)
    if lo != hi and med("status", lo) and med("status", hi):
        per = lambda k, f="median": (med(k, hi, f) - med(k, lo, f)) / (hi - lo) * 1e6  # noqa: E731
        print(f"\nPer extra worker ({lo} → {hi}): whole command {per('status'):.1f} µs, of which the daemon's CPU "
              f"{per('status', 'server_median'):.1f} µs and appctl's CPU {per('status', 'cpu_median'):.1f} µs; "
              f"`connections --json` {per('connections'):.1f} µs.")

    print("\n| workers | master VmRSS, all up + settle | after the status calls | VmHWM (peak) | anon (idle) | "
          "master open fds | all workers up in |")
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        m = mem[n]
        print(f"| {n} | {B.fmt_mb(m['rss_kb_idle'])} | {B.fmt_mb(m['rss_kb_after'])} | {B.fmt_mb(m['hwm_kb'])} | "
              f"{B.fmt_mb(m['anon_kb_idle'])} | {fds[n]} | {up_s[n]:.2f} s |")
    print(f"\nRLIMIT_NOFILE for the daemons: {nofile[0]} (soft) / {nofile[1]} (hard). Load average at the end of "
          f"the timed runs: {' '.join(load)}.")

    if hi in sizes and med("status", hi) is not None:
        v = med("status", hi)
        print(f"\nGoal for appd (issue 4): `status` with {hi} processes under {GOAL_MS:g} ms — "
              f"{'met' if v * 1000 < GOAL_MS else 'NOT met'} (median {B.fmt_ms(v)}; the daemon alone "
              f"{B.fmt_ms(med('raw', hi))}).")
    print("Reference figures from issue 4, **not measured here**: "
          + "; ".join(f"{k}: {v}" for k, v in REFERENCE) + ".")

    if profile:
        n = profile["size"]
        print(f"\n#### Where the time goes at {n} workers (--profile)\n")
        for key, what in (("strace_status", "status --json"), ("strace_connections", "connections --json")):
            calls = profile.get(key)
            if calls:
                total = sum(calls.values())
                top = ", ".join(f"{k} {v:.0f}" for k, v in list(calls.items())[:8])
                print(f"- Master's system calls per `{what}` (strace -c over {args.profile_count}): "
                      f"{total:.0f} ({total / n:.1f} per worker): {top}.")
        p = profile.get("perf")
        if p:
            print(f"- perf (`perf record -g`, children-inclusive share of the samples, "
                  f"{args.profile_count} × `status --json`):\n")
            print("| where | share |\n|---|---|")
            for label, v in p["master"].items():
                print(f"| master: {label} | {'–' if v is None else f'{v:.0f}%'} |")
            for label, v in p["client"].items():
                print(f"| appctl: {label} | {'–' if v is None else f'{v:.0f}%'} |")
        elif p is None:
            print("- perf: not available or not permitted here; skipped.")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"sizes": sizes, "runs": args.runs, "results": results, "memory": mem, "fds": fds,
                       "up_s": up_s, "profile": profile, "nofile": nofile}, f, indent=2)
    return 1 if any(r["failures"] or not r.get("n") for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
