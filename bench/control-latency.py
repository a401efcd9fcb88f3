#!/usr/bin/env python3
"""Whole-command latency of the control clients: `appctl status --json` vs
`supervisorctl status`, on the same 64 `sleep 1000` processes, in one run.

Both masters run at once: appd with one group of 64 `sleep 1000`, and
supervisord with one program, numprocs=64, of the same command (and its
XML-RPC interface on a Unix socket, which supervisorctl needs). Each timed
command is a whole process, as an operator would run it: from posix_spawn()
to wait4() returning, so it includes the client's start-up, connecting,
the daemon's answer, printing and exit. stdout goes to a file.

Commands, all interleaved (every round runs each once, in a shuffled order,
so every command sees the same machine load), after --warmup untimed rounds:

  appctl ping                  floor: appctl's start-up + one round trip
  appctl status --json         the figure of issue 3
  appctl status                the human table
  supervisorctl status         the peer
  supervisorctl pid            supervisorctl's floor: Python start-up + one XML-RPC call
  /bin/true                    the harness's floor: spawn + wait of a trivial program

Every output is checked (64 processes listed, all running) so a fast failure
cannot pass for a fast answer. Besides the wall time, each row shows the
client's own CPU time (wait4's rusage) and the daemon's CPU time over the
command (/proc/PID/schedstat of the master; for supervisord that also holds
its 1 s tick, when one falls inside).

Usage: bench/control-latency.py [--procs 64] [--runs 40] [--warmup 3] [--json FILE]
"""

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

APPCTL = os.environ.get("APPCTL", os.path.join(os.path.dirname(B.APPD), "appctl"))

# Issue 3, measured on this kind of machine by someone else: NOT measured here.
REFERENCE = [
    ("supervisorctl status, 4 processes", "77 ms"),
    ("supervisorctl status, 104 processes", "234 ms"),
    ("gunicornc (gunicorn 27's control client)", "108 ms"),
    ("circusctl", "104–360 ms"),
    ("Workerman `status` (includes its built-in 1 s sleep)", "1021 ms"),
]
GOAL_MS = 5.0
GOAL_RATIO = 15.0


def check_appctl_status_json(out, procs):
    doc = json.loads(out)
    ps = doc["processes"]
    running = [p for p in ps if p.get("state") == "running" and p.get("pid")]
    if len(ps) != procs or len(running) != procs:
        raise ValueError(f"{len(ps)} processes listed, {len(running)} running; wanted {procs}")


def check_appctl_status_text(out, procs):
    rows = [line for line in out.splitlines() if " running " in f" {line} "]
    if len(rows) < procs:
        raise ValueError(f"{len(rows)} rows say running; wanted {procs}")


def check_supervisorctl_status(out, procs):
    rows = [line for line in out.splitlines() if line.strip()]
    running = [line for line in rows if line.split()[1:2] == ["RUNNING"]]
    if len(rows) != procs or len(running) != procs:
        raise ValueError(f"{len(rows)} rows, {len(running)} RUNNING; wanted {procs}")


def check_pid(out, pid):
    if out.strip() != str(pid):
        raise ValueError(f"supervisorctl pid said {out.strip()!r}, not {pid}")


def check_pong(out, _procs):
    if "pong" not in out:
        raise ValueError("no pong")


class Command:
    def __init__(self, key, label, argv, server_pid, check, ok_codes=(0,)):
        self.key, self.label, self.argv = key, label, argv
        self.server_pid, self.check, self.ok_codes = server_pid, check, ok_codes
        self.wall, self.cpu, self.server = [], [], []
        self.failures = []

    def run(self, work, procs, record):
        out, err = os.path.join(work, "out"), os.path.join(work, "err")
        before = B.schedstat_ns(self.server_pid) if self.server_pid else None
        wall, cpu, code = B.spawn_timed(self.argv, out, err)
        after = B.schedstat_ns(self.server_pid) if self.server_pid else None
        with open(out, encoding="utf-8", errors="replace") as f:
            text = f.read()
        try:
            if code not in self.ok_codes:
                raise ValueError(f"exit {code}: {open(err).read().strip()[:300]}")
            if self.check:
                self.check(text, procs)
        except (ValueError, KeyError, TypeError) as e:
            self.failures.append(str(e))
            print(f"control-latency: {self.label}: {e}", file=sys.stderr)
            return False
        if record:
            self.wall.append(wall)
            self.cpu.append(cpu)
            if before is not None:
                self.server.append((after - before) / 1e9)
        return True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procs", type=int, default=64, help="sleep processes under each master (default 64)")
    ap.add_argument("--runs", type=int, default=40, help="timed runs of each command (default 40)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the per-round shuffle")
    ap.add_argument("--json", help="also write the results as JSON to this file")
    args = ap.parse_args()
    B.install_cleanup()
    if not os.access(APPCTL, os.X_OK):
        raise SystemExit(f"{APPCTL} not built: swift build -c release -Xswiftc -static-executable --scratch-path .build-bench")

    appd = B.Appd(args.procs)
    sup = B.Supervisord(args.procs, control=True)
    work = tempfile.mkdtemp(prefix="appd-bench-ctl-")
    try:
        print(f"control-latency: starting appd and supervisord with {args.procs} sleep processes each ...",
              file=sys.stderr)
        appd.start()
        sup.start()
        appd.wait_children(timeout=120)
        sup.wait_children(timeout=120)
        sup.wait_control()
        time.sleep(1.0)  # let both settle (supervisord's startsecs, appd's first samples)

        actl = [APPCTL, "--socket", appd.socket]
        commands = [
            Command("appctl_ping", "appctl ping", actl + ["ping"], appd.pid, check_pong),
            Command("appctl_status_json", "appctl status --json", actl + ["status", "--json"], appd.pid,
                    check_appctl_status_json),
            Command("appctl_status", "appctl status", actl + ["status"], appd.pid, check_appctl_status_text),
            Command("supervisorctl_status", "supervisorctl status", sup.ctl_argv("status"), sup.pid,
                    check_supervisorctl_status),
            Command("supervisorctl_pid", "supervisorctl pid", sup.ctl_argv("pid"), sup.pid,
                    lambda out, _n: check_pid(out, sup.pid)),
            Command("true", "/bin/true", ["/bin/true"], None, None),
        ]
        rng = random.Random(args.seed)
        rounds = args.warmup + args.runs
        ratios = []  # per round: supervisorctl status / appctl status --json
        for i in range(rounds):
            timed = i >= args.warmup
            if i == 0 or (i + 1) % 10 == 0 or i + 1 == rounds:
                print(f"control-latency: round {i + 1}/{rounds}{'' if timed else ' (warm-up)'}", file=sys.stderr)
            order = commands[:]
            rng.shuffle(order)
            ok = {c.key: c.run(work, args.procs, timed) for c in order}
            if timed and ok["appctl_status_json"] and ok["supervisorctl_status"]:
                by = {c.key: c for c in commands}
                ratios.append(by["supervisorctl_status"].wall[-1] / by["appctl_status_json"].wall[-1])
            if sum(len(c.failures) for c in commands) > max(5, args.runs // 4):
                raise RuntimeError("too many failed commands; see above")
        rss_kb = {"appd": B.status_field(appd.pid, "VmRSS"), "supervisord": B.status_field(sup.pid, "VmRSS")}
        load = open("/proc/loadavg").read().split()[:3]
    finally:
        sup.stop()
        appd.stop()
        shutil.rmtree(work, ignore_errors=True)

    results = {}
    for c in commands:
        r = {"label": c.label, "argv0": os.path.basename(c.argv[0]), "failures": len(c.failures)}
        if c.wall:
            r.update(B.summary(c.wall))
            r["cpu_median"] = statistics.median(c.cpu)
            if c.server:
                r["server_median"] = statistics.median(c.server)
            r["samples_ms"] = [round(x * 1000, 3) for x in c.wall]
        results[c.key] = r

    a = results["appctl_status_json"].get("median")
    s = results["supervisorctl_status"].get("median")
    ratio = s / a if a and s else None
    paired = statistics.median(ratios) if ratios else None

    print(f"### Control command latency: whole `appctl status --json` vs `supervisorctl status`, "
          f"{args.procs} `sleep` processes each ({args.runs} runs each, interleaved)\n")
    print("| command | n | median | p90 | min | max | client CPU (median) | daemon CPU (median) | failed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for c in commands:
        r = results[c.key]
        if not r.get("n"):
            print(f"| `{c.label}` | 0 | – | – | – | – | – | – | {r['failures']} |")
            continue
        server = B.fmt_ms(r["server_median"]) if "server_median" in r else "–"
        print(f"| `{c.label}` | {r['n']} | {B.fmt_ms(r['median'])} | {B.fmt_ms(r['p90'])} | "
              f"{B.fmt_ms(r['min'])} | {B.fmt_ms(r['max'])} | {B.fmt_ms(r['cpu_median'])} | {server} | "
              f"{r['failures']} |")
    print()
    if ratio:
        print(f"Ratio supervisorctl status / appctl status --json: **{ratio:.1f}×** (medians); "
              f"median of the per-round ratios {paired:.1f}×.")
    p = results["appctl_ping"].get("median")
    if a and p:
        print(f"`appctl ping` (client start-up + one round trip) is {p / a:.0%} of `appctl status --json`; "
              f"`/bin/true` (spawn + wait, the harness's own floor) {B.fmt_ms(results['true']['median'])}.")
    print(f"Masters' VmRSS at the end: appd {B.fmt_mb(rss_kb['appd'])}, supervisord {B.fmt_mb(rss_kb['supervisord'])}. "
          f"Load average at the end: {' '.join(load)}.")
    if a:
        met_ms = a * 1000 <= GOAL_MS
        met_ratio = ratio is not None and ratio >= GOAL_RATIO
        print(f"\nGoal for appd (issue 3): `appctl status` ≤ {GOAL_MS:g} ms median at {args.procs} processes — "
              f"{'met' if met_ms else 'NOT met'} ({B.fmt_ms(a)}); ≥ {GOAL_RATIO:g}× faster than supervisorctl in "
              f"the same run — {'met' if met_ratio else 'NOT met'} ({ratio:.1f}×).")
    print("Reference figures from issue 3, **not measured here**: "
          + "; ".join(f"{k} {v}" for k, v in REFERENCE) + ".")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"procs": args.procs, "runs": args.runs, "results": results, "ratio": ratio,
                       "paired_ratio_median": paired, "rss_kb": rss_kb}, f, indent=2)
    return 1 if any(r["failures"] or not r.get("n") for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
