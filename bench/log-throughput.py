#!/usr/bin/env python3
"""Master CPU and respawn latency while a worker writes 100 MB/s of output
to a rotated log file: appd vs supervisord, in one run (issue "Operating
it").

Each master runs two programs: `flood`, this benchmark's writer (Python:
100-byte lines, written in 1 MiB blocks paced at --rate MB/s by the
monotonic clock; it blocks when its master reads more slowly, and it counts
what it wrote into a file), whose output the master captures into a log
file rotated at 10 MiB with 5 copies kept; and `victims`, 8 × `sleep 1000`.

  appd         group flood: log {file: flood.log, maxBytes: 10485760, keep: 5},
               outputBytesPerSecond: 0 (the default cap, 4 MiB/s, would drop
               most of the flood: here it must be captured); group victims
  appd-raw     the same with the log's format: "raw" (the worker's bytes as
               it wrote them, moved by the kernel: splice(2))
  supervisord  [program:flood] stdout_logfile=flood.log,
               stdout_logfile_maxbytes=10MB, stdout_logfile_backups=5,
               redirect_stderr=true; the victims, numprocs=8, output NONE

The masters take turns (appd, appd-raw, supervisord, appd, ...; --rounds each), so the
flood never competes with the other master's flood for the 2 CPUs, and both
see the machine's load of the same minutes. In each round, after --warmup s
(the flood running, rotations happening): over --seconds s, the master's CPU
(utime + stime of all its threads, /proc/PID/stat; for appd also its loop
thread and its log writer threads apart), the bytes the flood got written
(its own count: what the master read), and a `sleep` victim SIGKILLed every
--kill-interval s and timed to its replacement (`benchlib.Victimiser`, as in
respawn-latency.py; the pace keeps the victims under appd's restart
intensity limit, max(10, 2 × count) restarts in 10 s, beyond which appd
holds restarts back by design). Prints medians over the rounds, the ratios, and the
goals: appd's CPU under half of supervisord's, respawn <= 3 ms.

appd's default format writes each line with its time and worker
(`2026-12-01T12:28:17.514Z flood#0[4711] stdout: `, 46 bytes) into the file,
so it writes about 1.45 times the bytes supervisord does (which writes the
output as it came, and may cut a line between two files): CPU per GB read is
printed too. appd-raw writes the same bytes as supervisord.

Usage: bench/.venv/bin/python bench/log-throughput.py [--rate 100] [--rounds 3] [--seconds 10]
       [--warmup 3] [--kill-interval 0.8] [--only appd,appd-raw,supervisord] [--json FILE]
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

GOAL_CPU_RATIO = 0.5   # appd's CPU / supervisord's, at most
GOAL_RESPAWN = 3e-3
MAX_BYTES = 10 * 1024 * 1024
KEEP = 5
VICTIMS = 8
PYTHON = sys.executable

FLOOD = r'''
import os, sys, time
rate = float(sys.argv[1]) * 1e6
counter = sys.argv[2]
block = bytearray()
number = 0
while len(block) < 1 << 20:
    number += 1
    text = b"flood line %09d " % number
    block += text + b"x" * (99 - len(text)) + b"\n"
view = memoryview(block)
out = sys.stdout.fileno()
start = time.monotonic()
written = 0
reported = 0.0
while True:
    due = start + written / rate
    now = time.monotonic()
    if now < due:
        time.sleep(due - now)
    offset = 0
    while offset < len(block):
        offset += os.write(out, view[offset:])
    written += len(block)
    if now - reported >= 0.1:
        reported = now
        with open(counter + ".tmp", "w") as f:
            f.write("%d %.6f\n" % (written, time.monotonic()))
        os.rename(counter + ".tmp", counter)
'''


def flood_command(directory, rate):
    script = os.path.join(directory, "flood.py")
    with open(script, "w") as f:
        f.write(FLOOD)
    return [PYTHON, script, str(rate), os.path.join(directory, "flood.count")]


class FloodAppd(B.Appd):
    """appd with the flood group, captured to its rotated log file, and the victims."""

    log_format = "text"

    def __init__(self, rate):
        super().__init__(VICTIMS + 1)
        with open(self.config) as f:
            config = json.load(f)
        config["groups"] = [
            {"name": "victims", "command": ["sleep", "1000"], "count": VICTIMS},
            {"name": "flood", "command": flood_command(self.dir, rate), "count": 1, "outputBytesPerSecond": 0,
             "log": {"file": "flood.log", "maxBytes": MAX_BYTES, "keep": KEEP, "format": self.log_format}},
        ]
        with open(self.config, "w") as f:
            json.dump(config, f, indent=2)


class FloodSupervisord(B.Supervisord):
    """supervisord with the victims (benchlib's `bench` program) and the same
    flood, to its rotated stdout_logfile."""

    def __init__(self, rate):
        super().__init__(VICTIMS)
        self.count = VICTIMS + 1
        with open(self.config, "a") as f:
            f.write(f"""
[program:flood]
command={" ".join(flood_command(self.dir, rate))}
autostart=true
autorestart=true
startsecs=0
stopwaitsecs=5
redirect_stderr=true
stdout_logfile={self.dir}/flood.log
stdout_logfile_maxbytes={MAX_BYTES}
stdout_logfile_backups={KEEP}
""")


class FloodAppdRaw(FloodAppd):
    """The same, the flood's log in the raw format."""

    log_format = "raw"


MASTERS = {"appd": FloodAppd, "appd-raw": FloodAppdRaw, "supervisord": FloodSupervisord}
APPDS = ("appd", "appd-raw")


def is_victim(pid):
    return (B.cmdline(pid) or b"").startswith(b"sleep\0")


def flood_count(directory):
    """(bytes the flood wrote, when), or None before its first report."""
    try:
        with open(os.path.join(directory, "flood.count")) as f:
            written, at = f.read().split()
        return int(written), float(at)
    except (FileNotFoundError, ValueError):
        return None


def cpu_ticks(pid, tid=None):
    """utime + stime of the process (all threads), or of one of its threads."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    fields = B.read_small(path).decode().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def thread_ticks(pid):
    """{tid: utime + stime} of every thread of `pid`."""
    ticks = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            ticks[int(tid)] = cpu_ticks(pid, tid)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return ticks


def log_files(directory):
    """The flood's log file and its rotated copies that exist."""
    return sorted(name for name in os.listdir(directory) if name.startswith("flood.log"))


def one_round(name, args):
    sup = MASTERS[name](args.rate)
    try:
        sup.start()
        sup.wait_children(timeout=60)
        deadline = time.monotonic() + 30
        while flood_count(sup.dir) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: the flood never reported")
            time.sleep(0.05)
        time.sleep(args.warmup)
        victimiser = B.Victimiser(sup, min_age=1.5, timeout=5.0,
                                  victims=lambda kids: {pid for pid in kids if is_victim(pid)})
        pid = sup.pid
        t0, cpu0, threads0, count0 = time.monotonic(), cpu_ticks(pid), thread_ticks(pid), flood_count(sup.dir)
        end = t0 + args.seconds
        while time.monotonic() < end:
            victimiser.kill_one()
            time.sleep(max(0.0, min(args.kill_interval, end - time.monotonic())))
        t1, cpu1, threads1, count1 = time.monotonic(), cpu_ticks(pid), thread_ticks(pid), flood_count(sup.dir)
        seconds = t1 - t0
        written = (count1[0] - count0[0]) / (count1[1] - count0[1])
        result = {
            "cpu": (cpu1 - cpu0) / B.CLK_TCK / seconds,
            "rate": written,
            "respawn": victimiser.latencies,
            "reaped": victimiser.reaped,
            "waited": victimiser.waited,
            "failures": victimiser.failures,
            "files": log_files(sup.dir),
        }
        if name in APPDS:
            # The loop thread is the main one; the others write the logs.
            result["loop"] = (threads1.get(pid, 0) - threads0.get(pid, 0)) / B.CLK_TCK / seconds
            result["writers"] = sum(threads1[t] - threads0.get(t, 0) for t in threads1 if t != pid) / B.CLK_TCK / seconds
            with open(os.path.join(sup.dir, "flood.log"), "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 4096))
                result["dropped"] = f.read().count(b" lines dropped: ")
        return result
    finally:
        sup.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=100, help="the flood's target, MB/s (default 100)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per master (default 3)")
    ap.add_argument("--seconds", type=float, default=10, help="measured window per round, s (default 10)")
    ap.add_argument("--warmup", type=float, default=3, help="flood before the window, s (default 3)")
    ap.add_argument("--kill-interval", type=float, default=0.8, help="pause after each respawn, s (default 0.8)")
    ap.add_argument("--only", default="appd,appd-raw,supervisord", help="comma-separated subset of appd,appd-raw,supervisord")
    ap.add_argument("--json", help="also write the results as JSON to this file")
    args = ap.parse_args()
    B.install_cleanup()

    names = args.only.split(",")
    rounds = {name: [] for name in names}
    for index in range(args.rounds):
        for name in names:
            print(f"log-throughput: round {index + 1}/{args.rounds}, {name} ...", file=sys.stderr)
            rounds[name].append(one_round(name, args))

    summary = {}
    for name, results in rounds.items():
        respawns = [x for r in results for x in r["respawn"]]
        summary[name] = {
            "cpu": statistics.median(r["cpu"] for r in results),
            "rate": statistics.median(r["rate"] for r in results),
            "cpu_per_gb": statistics.median(r["cpu"] / (r["rate"] / 1e9) for r in results),
            "respawn": B.summary(respawns) if respawns else {"n": 0},
            "reaped": statistics.median(x for r in results for x in r["reaped"]) if respawns else None,
            "waited": statistics.median(x for r in results for x in r["waited"]) if respawns else None,
            "failures": sum(r["failures"] for r in results),
            "rounds": results,
        }
        if name in APPDS:
            summary[name]["loop"] = statistics.median(r["loop"] for r in results)
            summary[name]["writers"] = statistics.median(r["writers"] for r in results)

    print(f"### Capturing a {args.rate:g} MB/s flood into a rotated log file ({MAX_BYTES >> 20} MiB × {KEEP} copies), "
          f"{args.rounds} rounds of {args.seconds:g} s each, masters taking turns\n")
    print("| master | master CPU (median of rounds) | rounds | flood got written | CPU per GB | "
          "respawn n | median | p90 | max | failed | kill→reaped | master waiting for a CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, s in summary.items():
        r = s["respawn"]
        cpus = ", ".join(f"{x['cpu'] * 100:.0f}%" for x in s["rounds"])
        respawn = (f"{r['n']} | {B.fmt_ms(r['median'])} | {B.fmt_ms(r['p90'])} | {B.fmt_ms(r['max'])}"
                   if r["n"] else "0 | – | – | –")
        context = f"{B.fmt_ms(s['reaped'])} | {B.fmt_ms(s['waited'])}" if r["n"] else "– | –"
        print(f"| {name} | {s['cpu'] * 100:.0f}% | {cpus} | {s['rate'] / 1e6:.1f} MB/s | "
              f"{s['cpu_per_gb']:.2f} s | {respawn} | {s['failures']} | {context} |")
    for name in (n for n in APPDS if n in summary):
        a = summary[name]
        print(f"\n{name}'s CPU: loop thread {a['loop'] * 100:.0f}%, log writer threads {a['writers'] * 100:.0f}% "
              f"(medians); rotated copies at the end of the last round: {', '.join(a['rounds'][-1]['files'])}; "
              f"drop markers near the end of its file: {a['rounds'][-1]['dropped']}.")
        if "supervisord" in summary:
            s = summary["supervisord"]
            ratio = a["cpu"] / s["cpu"]
            per_gb = a["cpu_per_gb"] / s["cpu_per_gb"]
            print(f"{name} / supervisord: CPU {ratio:.2f}× (goal < {GOAL_CPU_RATIO}: {'met' if ratio < GOAL_CPU_RATIO else 'NOT met'}); "
                  f"CPU per GB {per_gb:.2f}×.")
        if a["respawn"]["n"]:
            median = a["respawn"]["median"]
            print(f"{name} respawn under the flood: median {B.fmt_ms(median)} (goal <= {B.fmt_ms(GOAL_RESPAWN)}: "
                  f"{'met' if median <= GOAL_RESPAWN else 'NOT met'}).")
    print(f"Machine: {B.machine_line()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    return 1 if any(s["failures"] or not s["respawn"]["n"] for s in summary.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
