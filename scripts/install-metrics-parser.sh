#!/usr/bin/env bash
# Install a Prometheus exposition parser for the metrics end-to-end test
# (Tests/AppdTests/EndToEnd/MetricsEndToEndTests.swift), which checks appd's
# /metrics with a real one:
#
#   promtool          from Debian's prometheus package, when promtool is not
#                     on PATH: the .deb is downloaded (apt-get download, no
#                     root needed) and only promtool is unpacked, into
#                     .build/test-tools/ (ignored by git); nothing is
#                     installed on the system and no server is started
#   prometheus_client from PyPI, pinned, into .build/metrics-venv (a venv of
#                     the first python3 on PATH), when promtool cannot be had
#
# Best effort, idempotent and time-bounded: what is there is kept (a second
# run does nothing), every download has a deadline, and the script always
# exits 0; the test skips, saying why, when neither parser is there. The
# test runs this script itself when it finds no parser.
#
# Usage: scripts/install-metrics-parser.sh [--quiet]
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=$ROOT/.build/test-tools
VENV=$ROOT/.build/metrics-venv
PYTHON_PACKAGE=prometheus_client==0.26.0
QUIET=0
[ "${1:-}" = --quiet ] && QUIET=1

say() { [ "$QUIET" = 1 ] || echo "install-metrics-parser: $*" >&2; }
# `bounded SECONDS COMMAND...`: the command, killed after SECONDS (when
# coreutils' timeout is there; without it, unbounded).
bounded() {
  local seconds=$1; shift
  if command -v timeout >/dev/null; then timeout --kill-after=5 "$seconds" "$@"; else "$@"; fi
}

have_promtool() { command -v promtool >/dev/null || [ -x "$TOOLS/promtool" ]; }
have_python_parser() { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import prometheus_client.parser' 2>/dev/null; }

unpack_promtool() {
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || { say "no apt-get/dpkg-deb to fetch promtool"; return; }
  local scratch
  scratch=$(mktemp -d) || return
  say "downloading Debian's prometheus package for its promtool"
  if (cd "$scratch" && bounded 120 apt-get download -qq prometheus >/dev/null 2>&1) \
      && bounded 60 dpkg-deb -x "$scratch"/prometheus_*.deb "$scratch/root" \
      && [ -x "$scratch/root/usr/bin/promtool" ]; then
    mkdir -p "$TOOLS" && cp "$scratch/root/usr/bin/promtool" "$TOOLS/promtool"
  else
    say "could not get promtool from Debian's prometheus package"
  fi
  rm -rf "$scratch"
}

install_python_parser() {
  local python
  python=$(command -v python3) || { say "no python3 on PATH"; return; }
  if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p "$(dirname "$VENV")"
    bounded 60 "$python" -m venv "$VENV" >/dev/null 2>&1 || { rm -rf "$VENV"; say "'$python -m venv' failed"; return; }
  fi
  say "installing $PYTHON_PACKAGE into $VENV"
  bounded 180 "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --timeout 20 --retries 2 "$PYTHON_PACKAGE" \
    || say "pip could not install $PYTHON_PACKAGE"
}

if have_promtool || have_python_parser; then
  say "a parser is already there"
  exit 0
fi
unpack_promtool
have_promtool || install_python_parser
have_promtool || have_python_parser || say "no Prometheus parser could be installed; the metrics parser test will be skipped"
exit 0
