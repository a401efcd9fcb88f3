#!/usr/bin/env bash
# The master's system calls over 10 idle seconds: appd vs supervisord vs gunicorn.
#
# Each master gets 4 children (`sleep 1000`; gunicorn: 4 sync workers of a
# minimal WSGI app). Once all 4 are up and SETTLE seconds have passed, strace
# attaches to the master alone (-p on each of the master's threads, no -f, so
# no child is traced) for DURATION seconds with -c, and the total number of
# calls is reported, with the busiest calls.
#
# Usage: bench/idle-syscalls.sh [--only "appd supervisord gunicorn"] [--duration 10] [--settle 3] [--summary FILE]
# Needs strace (apt-get install -y strace), the release build of appd in
# .build-bench/release/ and the peers in bench/.venv (bench/setup-peers.sh).
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
APPD=${APPD:-$ROOT/.build-bench/release/appd}
VENV_BIN=$BENCH/.venv/bin
ONLY="appd supervisord gunicorn"
DURATION=10
SETTLE=3
SUMMARY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY=$(echo "$2" | tr ',' ' '); shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --settle) SETTLE=$2; shift 2 ;;
    --summary) SUMMARY=$2; shift 2 ;;  # also write "name total" lines to this file
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
command -v strace >/dev/null || { echo "strace missing: apt-get install -y strace" >&2; exit 2; }

WORK=$(mktemp -d /tmp/appd-bench-idle-XXXXXX)
MASTER=""          # pid of the master currently running
declare -A SEEN=() # child pid -> its cmdline when first seen

children() {  # direct children of every thread of $1, but not appd's orphan guard
  local t
  # appd forks one helper, the orphan guard (comm "appd-guard"): not a worker,
  # and it leaves by itself once the master has gone.
  for t in /proc/"$1"/task/*; do cat "$t/children" 2>/dev/null || true; done | tr ' ' '\n' | grep -v '^$' |
    while read -r kid; do
      [ "$(cat /proc/"$kid"/comm 2>/dev/null)" = appd-guard ] || echo "$kid"
    done || true
}

cmdline_of() { { tr '\0' ' ' < /proc/"$1"/cmdline; } 2>/dev/null || true; }

record_children() {
  local kid
  for kid in $(children "$1"); do
    [ -n "${SEEN[$kid]:-}" ] || SEEN[$kid]=$(cmdline_of "$kid")
  done
}

stop_master() {  # stop the current master by pid, then any child it left behind
  local sig=${1:-TERM} i kid
  [ -n "$MASTER" ] || return 0
  if kill -0 "$MASTER" 2>/dev/null; then
    record_children "$MASTER"
    kill -"$sig" "$MASTER" 2>/dev/null || true
    for i in $(seq 1 150); do kill -0 "$MASTER" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$MASTER" 2>/dev/null; then kill -KILL "$MASTER" 2>/dev/null || true; fi
  fi
  wait "$MASTER" 2>/dev/null || true
  for kid in "${!SEEN[@]}"; do
    if [ -n "${SEEN[$kid]}" ] && [ "$(cmdline_of "$kid")" = "${SEEN[$kid]}" ]; then
      echo "  note: killing leftover child $kid (${SEEN[$kid]})" >&2
      kill -KILL "$kid" 2>/dev/null || true
    fi
  done
  SEEN=()
  MASTER=""
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "${STRACE_PID:-}" ]; then  # timeout passes SIGINT on to strace, which detaches
    kill -INT "$STRACE_PID" 2>/dev/null || true
    wait "$STRACE_PID" 2>/dev/null || true
  fi
  stop_master "${STOP_SIG:-TERM}"
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

start_appd() {
  local d=$WORK/appd
  mkdir -p "$d"
  cat > "$d/appd.json5" <<EOF
{
  controlSocket: "$d/appd.sock", pidFile: "$d/appd.pid", statusFile: "$d/appd.status",
  logFile: "$d/appd.log", stopTimeout: 2,
  groups: [{name: "bench", command: ["sleep", "1000"], count: 4}],
}
EOF
  [ -x "$APPD" ] || { echo "$APPD not built" >&2; exit 2; }
  "$APPD" --config "$d/appd.json5" </dev/null >"$d/out" 2>&1 &
  MASTER=$!; STOP_SIG=TERM
}

start_supervisord() {
  local d=$WORK/supervisord
  mkdir -p "$d"
  cat > "$d/supervisord.conf" <<EOF
[supervisord]
nodaemon=true
logfile=$d/supervisord.log
pidfile=$d/supervisord.pid
childlogdir=$d

[program:bench]
command=sleep 1000
process_name=%(program_name)s_%(process_num)d
numprocs=4
autorestart=true
startsecs=0
stopwaitsecs=5
stdout_logfile=NONE
stderr_logfile=NONE
EOF
  "$VENV_BIN/supervisord" -n -c "$d/supervisord.conf" </dev/null >"$d/out" 2>&1 &
  MASTER=$!; STOP_SIG=TERM
}

start_gunicorn() {
  local d=$WORK/gunicorn extra=()
  mkdir -p "$d"
  printf '%s\n' 'def app(environ, start_response):' \
    '    start_response("200 OK", [("Content-Type", "text/plain")])' \
    '    return [b"ok\n"]' > "$d/benchapp.py"
  # gunicorn >= 24 adds a control-socket server thread (and ~/.gunicorn); off, as in classic gunicorn.
  if "$VENV_BIN/gunicorn" --help 2>/dev/null | grep -q -- --no-control-socket; then extra=(--no-control-socket); fi
  "$VENV_BIN/gunicorn" -w 4 -b 127.0.0.1:0 --chdir "$d" --worker-tmp-dir "$d" "${extra[@]}" \
    benchapp:app </dev/null >"$d/out" 2>&1 &
  MASTER=$!; STOP_SIG=INT
}

wait_children() {  # wait until the master has $2 children
  local i n
  for i in $(seq 1 600); do
    kill -0 "$1" 2>/dev/null || { echo "master $1 died" >&2; return 1; }
    n=$(children "$1" | wc -l)
    [ "$n" -eq "$2" ] && { record_children "$1"; return 0; }
    sleep 0.05
  done
  echo "master $1: $n children, wanted $2" >&2; return 1
}

declare -A TOTAL=() TOP=() THREADS=()
for name in $ONLY; do
  echo "idle-syscalls: $name: 4 children, settle ${SETTLE}s, strace -c ${DURATION}s ..." >&2
  "start_$name"
  wait_children "$MASTER" 4
  sleep "$SETTLE"
  record_children "$MASTER"
  out=$WORK/$name.strace
  targets=()
  for t in /proc/"$MASTER"/task/*; do targets+=(-p "${t##*/}"); done
  THREADS[$name]=$(( ${#targets[@]} / 2 ))
  timeout -s INT "$DURATION" strace -c -o "$out" "${targets[@]}" 2>/dev/null &
  STRACE_PID=$!
  wait "$STRACE_PID" || true
  STRACE_PID=""
  # No syscall at all leaves no table; otherwise the 'total' row has the call count in column 4.
  TOTAL[$name]=$(awk '$NF == "total" { print $4 }' "$out" 2>/dev/null)
  TOTAL[$name]=${TOTAL[$name]:-0}
  TOP[$name]=$(awk 'f && /^-/ {exit} f && NF >= 5 { printf "%s%s %s", sep, $NF, $4; sep=", " } /^-/ {f=1}' "$out" 2>/dev/null | cut -c1-160)
  [ -n "${TOP[$name]}" ] || TOP[$name]="–"
  if [ "$(children "$MASTER" | wc -l)" -ne 4 ]; then echo "warning: $name's children changed during the measure" >&2; fi
  stop_master "$STOP_SIG"
done

echo "### Master syscalls over ${DURATION} idle seconds (4 children; strace -c on the master's threads only)"
echo
echo "| supervisor | syscalls in ${DURATION} s | per second | threads traced | calls (name count) |"
echo "|---|---|---|---|---|"
for name in $ONLY; do
  per=$(awk -v n="${TOTAL[$name]}" -v d="$DURATION" 'BEGIN { printf "%.1f", n / d }')
  echo "| $name | ${TOTAL[$name]} | $per | ${THREADS[$name]} | ${TOP[$name]} |"
done
echo
if [ -n "${TOTAL[appd]:-}" ]; then
  if [ "${TOTAL[appd]}" -eq 0 ]; then echo "Goal for appd: 0 — met."; else echo "Goal for appd: 0 — NOT met (${TOTAL[appd]})."; fi
fi
if [ -n "$SUMMARY" ]; then
  : > "$SUMMARY"
  for name in $ONLY; do echo "$name ${TOTAL[$name]}" >> "$SUMMARY"; done
fi
echo "Reference figures from issue 2, **not measured here**: Workerman (PHP) 0, supervisord ~20, gunicorn ~50 per 10 s."
