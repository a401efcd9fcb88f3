#!/usr/bin/env python3
"""The master's resident memory with 100 children: appd vs supervisord vs gunicorn.

For each supervisor: start it with --children children (`sleep 1000`;
gunicorn: sync workers of a minimal WSGI app), wait until all are up, let it
settle --settle seconds, then read VmRSS (and VmHWM, the peak) of the master
from /proc/PID/status. Repeated --runs times; the median is reported.

Usage: bench/master-rss.py [--children 100] [--runs 3] [--only appd,supervisord] [--json FILE]
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

REFERENCE_MB = {  # from issue 2; not measured here
    "Workerman (PHP)": 10.9,
    "supervisord": 19.6,
    "gunicorn": 22.5,
    "circusd": 25.6,
}
GOAL_MB = 10


def measure_once(name, count, settle):
    sup = B.make(name, count)
    try:
        sup.start()
        t0 = time.monotonic()
        sup.wait_children(timeout=120)
        up = time.monotonic() - t0
        time.sleep(settle)
        if len(sup.children()) != count:
            raise RuntimeError(f"{name}: children changed while settling")
        return {
            "rss_kb": B.status_field(sup.pid, "VmRSS"),
            "hwm_kb": B.status_field(sup.pid, "VmHWM"),
            "anon_kb": B.status_field(sup.pid, "RssAnon"),
            "file_kb": B.status_field(sup.pid, "RssFile"),
            "threads": B.thread_count(sup.pid),
            "start_s": up,
        }
    finally:
        sup.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--children", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--settle", type=float, default=2.0)
    ap.add_argument("--only", default=",".join(B.ALL), help="comma-separated subset of " + ",".join(B.ALL))
    ap.add_argument("--json", help="also write the results as JSON to this file")
    args = ap.parse_args()
    B.install_cleanup()

    results, errors = {}, {}
    for name in args.only.split(","):
        runs = []
        for i in range(args.runs):
            print(f"master-rss: {name}: run {i + 1}/{args.runs} with {args.children} children ...", file=sys.stderr)
            try:
                runs.append(measure_once(name, args.children, args.settle))
            except Exception as e:  # e.g. gunicorn failing to run 100 workers
                errors[name] = str(e)
                print(f"master-rss: {name}: {e}", file=sys.stderr)
                break
        if runs:
            rss = [r["rss_kb"] for r in runs]
            results[name] = {
                "runs": runs,
                "rss_kb_median": statistics.median(rss),
                "rss_kb_min": min(rss),
                "rss_kb_max": max(rss),
                "hwm_kb_median": statistics.median(r["hwm_kb"] for r in runs),
                "anon_kb_median": statistics.median(r["anon_kb"] for r in runs),
                "file_kb_median": statistics.median(r["file_kb"] for r in runs),
                "threads": runs[0]["threads"],
                "start_s_median": statistics.median(r["start_s"] for r in runs),
            }

    print(f"### Master RSS with {args.children} children (VmRSS after all up + {args.settle:g} s; "
          f"median of {args.runs} runs)\n")
    print("| supervisor | VmRSS median | min | max | of which anon / file-backed | VmHWM (peak) | threads "
          "| all children up in | RSS vs appd |")
    print("|---|---|---|---|---|---|---|---|---|")
    base = results.get("appd", {}).get("rss_kb_median")
    for name, r in results.items():
        ratio = f"{r['rss_kb_median'] / base:.2f}×" if base else "–"
        print(f"| {name} | {r['rss_kb_median'] / 1024:.1f} MiB ({int(r['rss_kb_median'])} kB) | "
              f"{r['rss_kb_min'] / 1024:.1f} MiB | {r['rss_kb_max'] / 1024:.1f} MiB | "
              f"{r['anon_kb_median'] / 1024:.1f} / {r['file_kb_median'] / 1024:.1f} MiB | "
              f"{r['hwm_kb_median'] / 1024:.1f} MiB | {r['threads']} | {r['start_s_median']:.2f} s | {ratio} |")
    for name, err in errors.items():
        print(f"| {name} | failed: {err} | | | | | | | |")
    if base:
        print(f"\nGoal for appd: ≤ {GOAL_MB} MB — {'met' if base / 1024 <= GOAL_MB else 'NOT met'} "
              f"({base / 1024:.1f} MiB = {base * 1024 / 1e6:.1f} MB).")
        ref = ", ".join(f"{k} {v} MB" for k, v in REFERENCE_MB.items())
        print(f"Reference figures from issue 2, **not measured here**: {ref}.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "errors": errors}, f, indent=2)
    return 1 if errors and "appd" in errors else 0


if __name__ == "__main__":
    sys.exit(main())
