#!/usr/bin/env bash
# The test command (README; .ci/run runs exactly this): install what the
# recipe tests need where it can be installed (scripts/install-test-runtimes.sh,
# best effort, never fails the run), then every test. Arguments go to
# `swift test`, e.g. scripts/test.sh --filter Recipes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-runtimes.sh --quiet
exec swift test "$@"
