#!/usr/bin/env bash
# Install the runtimes the recipe tests (Tests/AppdTests/EndToEnd/
# RecipesEndToEndTests.swift) run the recipes of docs/WORKERS.md with, and
# the Prometheus parser the metrics test (MetricsEndToEndTests.swift) reads
# appd's /metrics with:
#
#   gunicorn and uvicorn  from PyPI, pinned, into .build/recipe-venv (a venv
#   and prometheus_client of the first python3 on PATH; ignored by git)
#   node                  Debian's nodejs, with apt-get, when node is not on
#                         PATH and this runs as root
#   promtool              when it is not on PATH: Debian's prometheus package
#                         is downloaded (apt-get download, no root needed) and
#                         only promtool is unpacked, into .build/test-tools;
#                         nothing is installed on the system and no
#                         Prometheus server is started
#
# Best effort, idempotent and time-bounded: what is already there is kept
# (a second run does nothing and takes well under a second), every download
# has a deadline, and a runtime that cannot be installed is reported and
# skipped. It always exits 0: the tests then skip what is missing and say
# why. scripts/test.sh (the test command) runs it before `swift test`.
#
# Usage: scripts/install-test-runtimes.sh [--quiet]
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=$ROOT/.build/recipe-venv
TOOLS=$ROOT/.build/test-tools
# gunicorn and uvicorn: the versions docs/WORKERS.md quotes; prometheus_client:
# the metrics test's parser where promtool cannot be had.
PYTHON_PACKAGES=(gunicorn==27.0.1 uvicorn==0.54.0 prometheus_client==0.26.0)
QUIET=0
[ "${1:-}" = --quiet ] && QUIET=1

say() { [ "$QUIET" = 1 ] || echo "install-test-runtimes: $*" >&2; }
warn() { echo "install-test-runtimes: $*; the tests that need it will be skipped" >&2; }
# `bounded SECONDS COMMAND...`: the command, killed after SECONDS (when
# coreutils' timeout is there; without it, unbounded).
bounded() {
  local seconds=$1; shift
  if command -v timeout >/dev/null; then timeout --kill-after=5 "$seconds" "$@"; else "$@"; fi
}

python_packages_installed() {
  [ -x "$VENV/bin/python" ] || return 1
  "$VENV/bin/python" - "${PYTHON_PACKAGES[@]}" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if all(version(name) == wanted for name, wanted in (p.split("==") for p in sys.argv[1:])) else 1)
EOF
}

install_python_packages() {
  if python_packages_installed; then
    say "${PYTHON_PACKAGES[*]} already in $VENV"
    return
  fi
  local python
  python=$(command -v python3) || { warn "no python3 on PATH"; return; }
  if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p "$(dirname "$VENV")"
    if ! bounded 60 "$python" -m venv "$VENV" >/dev/null 2>&1; then
      rm -rf "$VENV"
      warn "'$python -m venv' failed (Debian: apt-get install python3-venv)"
      return
    fi
  fi
  say "installing ${PYTHON_PACKAGES[*]} into $VENV"
  if ! bounded 180 "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --timeout 20 --retries 2 \
      "${PYTHON_PACKAGES[@]}"; then
    warn "pip could not install ${PYTHON_PACKAGES[*]}"
    return
  fi
  python_packages_installed || warn "gunicorn and uvicorn are still not importable from $VENV"
}

install_node() {
  if command -v node >/dev/null; then
    say "node already on PATH ($(command -v node), $(node --version 2>/dev/null))"
    return
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    warn "node is not on PATH (install Debian's nodejs: apt-get install nodejs)"
    return
  fi
  say "installing nodejs with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if ! bounded 120 apt-get update -qq >/dev/null; then
    warn "apt-get update failed"
    return
  fi
  if ! bounded 300 apt-get install -y -qq --no-install-recommends nodejs >/dev/null; then
    warn "apt-get install nodejs failed"
    return
  fi
  command -v node >/dev/null || warn "nodejs is installed but node is still not on PATH"
}

install_promtool() {
  if command -v promtool >/dev/null || [ -x "$TOOLS/promtool" ]; then
    say "promtool already there ($(command -v promtool || echo "$TOOLS/promtool"))"
    return
  fi
  if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
    warn "promtool is not on PATH, and there is no apt-get to fetch Debian's prometheus package"
    return
  fi
  local scratch
  scratch=$(mktemp -d) || return
  say "downloading Debian's prometheus package for its promtool"
  if (cd "$scratch" && bounded 120 apt-get download -qq prometheus >/dev/null 2>&1) \
      && bounded 60 dpkg-deb -x "$scratch"/prometheus_*.deb "$scratch/root" \
      && [ -x "$scratch/root/usr/bin/promtool" ]; then
    mkdir -p "$TOOLS" && cp "$scratch/root/usr/bin/promtool" "$TOOLS/promtool"
  else
    warn "could not get promtool out of Debian's prometheus package (prometheus_client stands in)"
  fi
  rm -rf "$scratch"
}

install_python_packages
install_node
install_promtool
exit 0
