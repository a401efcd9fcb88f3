#!/usr/bin/env bash
# Build appd (release, static Swift stdlib, scratch dir .build-bench), set up
# the peers in bench/.venv, run the benchmarks (respawn latency, master RSS,
# idle syscalls; control-command latency, status scaling; reload under load;
# the master's latency under load; capturing a 100 MB/s flood into a rotated
# log file) and rewrite bench/RESULTS.md with their tables, the date and the
# machine.
#
# Usage: bench/run-all.sh [--no-build] [--kills N] [--runs N] [--ctl-runs N] [--scaling-runs N] [--reloads N]
#                         [--load-kills N] [--log-rounds N]
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
BUILD=1
KILLS=21
RUNS=3
CTL_RUNS=40
SCALING_RUNS=30
RELOADS=3
LOAD_KILLS=30
LOG_ROUNDS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0; shift ;;
    --kills) KILLS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --ctl-runs) CTL_RUNS=$2; shift 2 ;;
    --scaling-runs) SCALING_RUNS=$2; shift 2 ;;
    --reloads) RELOADS=$2; shift 2 ;;
    --load-kills) LOAD_KILLS=$2; shift 2 ;;
    --log-rounds) LOG_ROUNDS=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

OUT=$(mktemp -d /tmp/appd-bench-all-XXXXXX)
STEP=""  # pid of the benchmark running now; a signal to this script is passed on to it
on_signal() {
  if [ -n "$STEP" ]; then kill -TERM "$STEP" 2>/dev/null || true; wait "$STEP" 2>/dev/null || true; fi
  exit 130
}
trap 'rm -rf "$OUT"' EXIT
trap on_signal INT TERM HUP

step() {  # run one benchmark in the background and wait, so signals reach us at once
  "$@" &
  STEP=$!
  local rc=0
  wait "$STEP" || rc=$?
  STEP=""
  return $rc
}

cd "$ROOT"
if [ "$BUILD" = 1 ]; then
  echo "== building appd (release, static stdlib, .build-bench)" >&2
  swift build -c release -Xswiftc -static-executable --scratch-path .build-bench >&2
fi
echo "== peers" >&2
"$BENCH/setup-peers.sh" > "$OUT/peers.txt"
# The venv's interpreter is the real one (a pyenv shim would put a wrapper
# process between this script and the benchmark, and signals would miss it).
PY=$BENCH/.venv/bin/python
if ! command -v strace >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y strace >&2; else echo "strace missing" >&2; exit 2; fi
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
status=0
echo "== respawn latency" >&2
step "$PY" "$BENCH/respawn-latency.py" --kills "$KILLS" --json "$OUT/respawn.json" > "$OUT/respawn.md" || status=1
echo "== master RSS" >&2
step "$PY" "$BENCH/master-rss.py" --runs "$RUNS" --json "$OUT/rss.json" > "$OUT/rss.md" || status=1
echo "== idle syscalls" >&2
step "$BENCH/idle-syscalls.sh" --summary "$OUT/idle.txt" > "$OUT/idle.md" || status=1
echo "== control command latency" >&2
step "$PY" "$BENCH/control-latency.py" --runs "$CTL_RUNS" --json "$OUT/ctl.json" > "$OUT/ctl.md" || status=1
echo "== status scaling" >&2
step "$PY" "$BENCH/status-scaling.py" --runs "$SCALING_RUNS" --profile --json "$OUT/scaling.json" > "$OUT/scaling.md" || status=1
echo "== reload under load" >&2
step "$PY" "$BENCH/reload-under-load.py" --reloads "$RELOADS" --json "$OUT/reload.json" > "$OUT/reload.md" || status=1
echo "== latency under load" >&2
step "$PY" "$BENCH/load-latency.py" --kills "$LOAD_KILLS" --json "$OUT/load.json" > "$OUT/load.md" || status=1
echo "== a 100 MB/s flood into a rotated log file" >&2
step "$PY" "$BENCH/log-throughput.py" --rounds "$LOG_ROUNDS" --json "$OUT/logs.json" > "$OUT/logs.md" || status=1
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit (+ uncommitted changes)"; fi
cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
swiftv=$(swift --version 2>/dev/null | head -1 || echo unknown)
python3v=$("$PY" --version 2>&1)

summary=$("$PY" - "$OUT" <<'EOF'
import json, os, sys
out = sys.argv[1]
def load(name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
rl = load("respawn.json")
rss = load("rss.json").get("results", {})
idle = {}
try:
    with open(os.path.join(out, "idle.txt")) as f:
        for line in f:
            k, v = line.split()
            idle[k] = int(v)
except OSError:
    pass
names = ["appd", "supervisord", "gunicorn"]
def cell(value, fmt, base):
    if value is None:
        return "–"
    text = fmt(value)
    if base not in (None, 0) and value is not base:
        text += f" ({value / base:.1f}× appd)"
    return text
rows = []
v = {n: rl.get(n, {}).get("median") for n in names}
rows.append(["respawn after kill -9, median", "≤ 3 ms", "5.7 ms / 2.7 s"] +
            [cell(v[n], lambda x: f"{x * 1000:.2f} ms", v["appd"]) for n in names])
v = {n: rss.get(n, {}).get("rss_kb_median") for n in names}
rows.append(["master RSS, 100 children", "≤ 10 MB", "10.9 MB / 25.6 MB"] +
            [cell(v[n], lambda x: f"{x / 1024:.1f} MiB", v["appd"]) for n in names])
v = {n: idle.get(n) for n in names}
rows.append(["master syscalls, 10 idle s", "0", "0 / –"] +
            [("–" if v[n] is None else str(v[n])) for n in names])
ctl = load("ctl.json")
cr = ctl.get("results", {})
a = cr.get("appctl_status_json", {}).get("median")
sv = cr.get("supervisorctl_status", {}).get("median")
procs = ctl.get("procs", 64)
rows.append([f"whole status command, {procs} processes, median (appd: `appctl status --json`; "
             "supervisord: `supervisorctl status`)", "≤ 5 ms, ≥ 15× faster than supervisorctl",
             "1021 ms (Workerman `status`) / 104–360 ms (circusctl)",
             "–" if a is None else f"{a * 1000:.2f} ms",
             "–" if sv is None else (f"{sv * 1000:.2f} ms" + (f" ({sv / a:.1f}× appd)" if a else "")),
             "– (gunicornc: 108 ms in issue 3, not measured here)"])
p = cr.get("appctl_ping", {}).get("median")
rows.append(["control client floor, median (`appctl ping`; `supervisorctl pid`)", "–", "– / –",
             "–" if p is None else f"{p * 1000:.2f} ms",
             "–" if cr.get("supervisorctl_pid", {}).get("median") is None else
             f"{cr['supervisorctl_pid']['median'] * 1000:.2f} ms", "–"])
sc = load("scaling.json")
sr = sc.get("results", {})
sizes = sc.get("sizes", [])
if sizes:
    hi = max(sizes)
    cells = " / ".join("–" if sr.get(f"status@{n}", {}).get("median") is None else
                       f"{sr[f'status@{n}']['median'] * 1000:.1f}" for n in sizes) + " ms"
    rows.append([f"`appctl status --json` with {' / '.join(map(str, sizes))} workers, median", f"< 50 ms at {hi}",
                 "– / 2.5 ms per process (360 ms at 104)", cells, "–", "–"])
    c = sr.get(f"connections@{hi}", {}).get("median")
    rows.append([f"`appctl connections --json` with {hi} workers, median", "–", "– / –",
                 "–" if c is None else f"{c * 1000:.1f} ms", "–", "–"])
    mem = sc.get("memory", {})
    rows.append([f"master VmRSS with {' / '.join(map(str, sizes))} workers", "–", "– / –",
                 " / ".join("–" if str(n) not in mem else f"{mem[str(n)]['rss_kb_idle'] / 1024:.1f}" for n in sizes)
                 + " MiB", "–", "–"])
rl = load("reload.json")
def reload_cell(s, base=None):
    if not s or s.get("max_median") is None:
        return "–"
    m = s["max_median"]
    text = f"{s['failed_total']} failed, max " + (f"{m * 1000:.0f} ms" if m < 1 else f"{m:.2f} s")
    if s["completed"] < s["reloads"] or s["reloads"] < rl.get("reloads", 0):
        text += f" ({s['completed']}/{rl.get('reloads')} reloads completed)"
    return text
for case, s in rl.get("summary", {}).items():
    a, g = s.get("appd"), s.get("gunicorn")
    acell = reload_cell(a)
    if a and g and a.get("max_median") and g.get("max_median"):
        acell += f" ({a['max_median'] / g['max_median']:.2f}× gunicorn's max)"
    rows.append([f"rolling reload under load, {case}: failed requests over {rl.get('reloads')} reloads, "
                 "max latency (median of the reloads' maxima)", "0 failed", "– / –", acell, "–",
                 reload_cell(g) + " (`kill -HUP`)" if g else "–"])
ll = load("load.json")
lr = ll.get("results", {})
def load_cells(key, names):
    def one(n):
        v = lr.get(n, {}).get(key, {}).get("median")
        return "–" if v is None else f"{v * 1000:.2f}"
    return " / ".join(one(n) for n in names) + " ms"
if lr:
    big = ll.get("args", {}).get("big", 1000)
    conds = [n for n in ("idle", "flood", "1000+watch") if n in lr]
    what = " / ".join({"idle": "idle", "flood": "log flood",
                       "1000+watch": f"10 status watchers on {big} workers"}[n] for n in conds)
    rows.append([f"respawn after kill -9, median ({what})", "≤ 3 ms under load", "– / –",
                 load_cells("respawn", conds), "–", "–"])
    rows.append([f"control `ping` round trip over a raw socket, median ({what})", "≤ 5 ms under load", "– / –",
                 load_cells("ping", conds), "–", "–"])
    sconds = [n for n in ("1000", "1000+watch") if n in lr]
    if sconds:
        swhat = " / ".join({"1000": "quiet", "1000+watch": "under the watchers"}[n] for n in sconds)
        rows.append([f"`appctl status --json` of {big} workers, median ({swhat})", "≤ 20 ms", "– / –",
                     load_cells("status_wall", sconds), "–", "–"])
lt = load("logs.json")
if lt.get("appd") and lt.get("supervisord"):
    a, s = lt["appd"], lt["supervisord"]
    rows.append(["master CPU while a worker writes 100 MB/s into a rotated log file (median of rounds)",
                 "< half of supervisord's", "– / –",
                 f"{a['cpu'] * 100:.0f}% ({a['cpu'] / s['cpu']:.2f}× supervisord)", f"{s['cpu'] * 100:.0f}%", "–"])
    if a["respawn"].get("n") and s["respawn"].get("n"):
        rows.append(["respawn after kill -9 during that flood, median", "≤ 3 ms", "– / –",
                     f"{a['respawn']['median'] * 1000:.2f} ms", f"{s['respawn']['median'] * 1000:.2f} ms", "–"])
print("| measure | goal | Workerman / circus (issue 2, not measured here) | appd | supervisord | gunicorn |")
print("|---|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
EOF
)

{
  echo "# appd benchmark results"
  echo
  echo "Generated by \`bench/run-all.sh\` — do not edit by hand; see bench/README.md for what each figure means."
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- Machine: $(nproc) CPUs (nproc), $cpu, kernel $(uname -r), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo); shared and noisy; load average $load_before before, $load_after after"
  echo "- appd: commit $commit, \`swift build -c release -Xswiftc -static-executable\` ($swiftv)"
  echo "- Peers (bench/.venv, $python3v): $(tr -s ' ' < "$OUT/peers.txt" | tr '\n' ',' | sed 's/,$//; s/,/, /g'); gunicorn with \`--no-control-socket\` when it has one"
  echo
  echo "## Summary"
  echo
  echo "$summary"
  echo
  echo "## Details"
  echo
  cat "$OUT/respawn.md"
  echo
  cat "$OUT/rss.md"
  echo
  cat "$OUT/idle.md"
  echo
  cat "$OUT/ctl.md"
  echo
  cat "$OUT/scaling.md"
  echo
  cat "$OUT/reload.md"
  echo
  cat "$OUT/load.md"
  echo
  cat "$OUT/logs.md"
} > "$BENCH/RESULTS.md"

echo "== wrote $BENCH/RESULTS.md" >&2
cat "$BENCH/RESULTS.md"
exit $status
