#!/usr/bin/env python3
"""Respawn latency after kill -9: appd vs supervisord vs gunicorn, one run.

Each master keeps 4 children (`sleep 1000`; gunicorn: 4 sync workers of a
minimal WSGI app). All masters run at once and the kills are interleaved
(one per master per round), so they all see the same machine load and the
ratios are fair on a noisy machine. For each kill: take the oldest child, wait until it has been
up >= --min-age seconds (appd respawns at once only after a process stayed up
>= 1 s; quicker deaths back off by design), SIGKILL it, and busy-poll the
master's children list in /proc until a pid that was not there before
appears. The time from kill() to that moment is the respawn latency: the
master's SIGCHLD handling plus fork (the new pid shows up at fork, before
exec).

Usage: bench/respawn-latency.py [--kills N] [--only appd,gunicorn] [--json FILE]
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

REFERENCE = {  # from issue 2; not measured here
    "Workerman (PHP)": 5.7e-3,
    "gunicorn": 6.2e-3,
    "supervisord": 1.005,
    "circus": 2.7,
}
GOAL = 3e-3


def measure(names, kills, min_age, timeout, settle):
    """Start every master, then kill one child of each in turn, round after
    round, so that all of them see the same machine load over the run."""
    sups, victimisers = [], []
    try:
        for name in names:
            sup = B.make(name, 4)
            sups.append(sup)
            sup.start()
        for sup in sups:
            sup.wait_children(timeout=60)
            victimisers.append(B.Victimiser(sup, min_age, timeout))
        for i in range(kills):
            print(f"respawn-latency: round {i + 1}/{kills}", file=sys.stderr)
            for v in victimisers:
                v.kill_one()
                time.sleep(settle)
        return {sup.name: v for sup, v in zip(sups, victimisers)}
    finally:
        for sup in reversed(sups):
            sup.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=21, help="kills per supervisor (default 21)")
    ap.add_argument("--min-age", type=float, default=1.5, help="minimum victim age in s (default 1.5)")
    ap.add_argument("--timeout", type=float, default=5.0, help="give up on one respawn after s (default 5)")
    ap.add_argument("--settle", type=float, default=0.2, help="pause after each respawn in s (default 0.2)")
    ap.add_argument("--only", default=",".join(B.ALL), help="comma-separated subset of " + ",".join(B.ALL))
    ap.add_argument("--json", help="also write the results as JSON to this file")
    args = ap.parse_args()
    B.install_cleanup()

    names = args.only.split(",")
    print(f"respawn-latency: {', '.join(names)}: {args.kills} rounds, one kill each of a child aged "
          f">= {args.min_age}s ...", file=sys.stderr)
    results = {}
    for name, v in measure(names, args.kills, args.min_age, args.timeout, args.settle).items():
        lat = v.latencies
        results[name] = dict(B.summary(lat) if lat else {"n": 0}, failures=v.failures,
                             samples=[round(x * 1000, 3) for x in lat])
        if lat:
            results[name].update(
                reaped_median=statistics.median(v.reaped),
                oncpu_median=statistics.median(v.oncpu),
                waited_median=statistics.median(v.waited),
            )

    print(f"### Respawn latency after kill -9 (4 children each, {args.kills} kills each, interleaved)\n")
    print("| supervisor | n | median | p90 | min | max | failed | median vs appd "
          "| median kill→reaped | master on CPU | master waiting for a CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    base = results.get("appd", {}).get("median")
    for name, r in results.items():
        if not r["n"]:
            print(f"| {name} | 0 | – | – | – | – | {r['failures']} | – | – | – | – |")
            continue
        ratio = f"{r['median'] / base:.1f}×" if base else "–"
        print(f"| {name} | {r['n']} | {B.fmt_ms(r['median'])} | {B.fmt_ms(r['p90'])} | "
              f"{B.fmt_ms(r['min'])} | {B.fmt_ms(r['max'])} | {r['failures']} | {ratio} | "
              f"{B.fmt_ms(r['reaped_median'])} | {B.fmt_ms(r['oncpu_median'])} | {B.fmt_ms(r['waited_median'])} |")
    print("\nThe last three columns are medians over the kills, from the poller and from the master's "
          "/proc/PID/schedstat\n(CPU time, and time runnable but waiting for a CPU, between kill() and the new pid).")
    if base:
        print(f"\nGoal for appd: ≤ {B.fmt_ms(GOAL)} — {'met' if base <= GOAL else 'NOT met'} "
              f"(median {B.fmt_ms(base)}).")
        ref = ", ".join(f"{k} {B.fmt_ms(v)}" for k, v in REFERENCE.items())
        print(f"Reference figures from issue 2, **not measured here**: {ref}.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    if any(r["failures"] or not r["n"] for r in results.values()):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
