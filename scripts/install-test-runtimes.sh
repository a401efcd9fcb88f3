#!/usr/bin/env bash
# Install the runtimes the recipe tests (Tests/AppdTests/EndToEnd/
# RecipesEndToEndTests.swift) run the recipes of docs/WORKERS.md with:
#
#   gunicorn and uvicorn  from PyPI, pinned, into .build/recipe-venv (a venv
#                         of the first python3 on PATH; ignored by git)
#   node                  Debian's nodejs, with apt-get, when node is not on
#                         PATH and this runs as root
#
# Best effort, idempotent and time-bounded: what is already there is kept
# (a second run does nothing and takes well under a second), every download
# has a deadline, and a runtime that cannot be installed is reported and
# skipped. It always exits 0: the recipe tests then skip what is missing and
# say why. scripts/test.sh (the test command) runs it before `swift test`.
#
# Usage: scripts/install-test-runtimes.sh [--quiet]
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=$ROOT/.build/recipe-venv
# The versions docs/WORKERS.md quotes; RecipesEndToEndTests.swift checks the same.
PYTHON_PACKAGES=(gunicorn==27.0.1 uvicorn==0.54.0)
QUIET=0
[ "${1:-}" = --quiet ] && QUIET=1

say() { [ "$QUIET" = 1 ] || echo "install-test-runtimes: $*" >&2; }
warn() { echo "install-test-runtimes: $*; the recipe tests that need it will be skipped" >&2; }
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
    say "gunicorn and uvicorn already in $VENV"
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

install_python_packages
install_node
exit 0
