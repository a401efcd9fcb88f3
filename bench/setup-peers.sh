#!/usr/bin/env bash
# Install the peers the benchmarks compare appd with (supervisord, gunicorn)
# from PyPI into bench/.venv (ignored by git). Idempotent.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
if [ ! -x "$BENCH/.venv/bin/python" ]; then
  python3 -m venv "$BENCH/.venv"
fi
if ! "$BENCH/.venv/bin/python" -c 'import supervisor, gunicorn' 2>/dev/null; then
  "$BENCH/.venv/bin/pip" install --quiet supervisor gunicorn
fi
"$BENCH/.venv/bin/pip" list 2>/dev/null | grep -iE '^(supervisor|gunicorn) '
