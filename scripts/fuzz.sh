#!/usr/bin/env bash
# Builds the libFuzzer targets under fuzz/targets/ and runs each for a bounded
# time. Not part of CI (.ci/run runs only scripts/test.sh).
#
#   scripts/fuzz.sh [--seconds N] [--max-len BYTES] [--no-build] [TARGET...]
#
# Targets: config (ConfigLoader.parse and the tolerant socket scan on any
# bytes), protocol (LineFramer, ControlRequest, ControlReply, JSONValue),
# notify (NotifyMessage). Default: all three, 60 seconds each. --no-build
# runs the binaries already in .build/fuzz as they are (a long run in the
# background while the sources change).
#
# Each target is one binary built with `swiftc -sanitize=fuzzer,address`
# from every Sources/Shared file plus its entry point (and, for notify,
# Sources/DaemonShell/Workers/NotifyMessage.swift). The seeds in fuzz/corpus/TARGET
# are only read; what the fuzzer adds goes to .build/fuzz/corpus/TARGET (kept
# between runs, so runs build on each other; set APPD_FUZZ_WORK to move it).
# A crashing input is written to a fresh temporary directory, named at the
# end; the script then exits 1. Turn a crash into a regression test under
# Tests/AppdTests/ (see README, "Fuzzing and sanitizers").
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

seconds=60
max_len=""
rebuild=yes
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds=${2:?--seconds needs a value}; shift 2 ;;
        --seconds=*) seconds=${1#*=}; shift ;;
        --max-len) max_len=${2:?--max-len needs a value}; shift 2 ;;
        --no-build) rebuild=no; shift ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(config protocol notify)
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: --seconds needs a whole number, got '$seconds'" >&2; exit 2 ;; esac

build="$root/.build/fuzz"
work="${APPD_FUZZ_WORK:-$build/corpus}"
crashes=$(mktemp -d "${TMPDIR:-/tmp}/appd-fuzz-crashes.XXXXXX")
mkdir -p "$build"
# A trap must reach libFuzzer's handler at once, not wait for Swift's backtracer.
export SWIFT_BACKTRACE=enable=no

shared_sources() { find "$root/Sources/Shared" -name '*.swift' | sort; }

# Builds fuzz/targets/$1 into $build/$1 unless it is newer than every source.
build_target() {
    local target=$1 binary="$build/$1" sources extra=()
    if [ $rebuild = no ] && [ -x "$binary" ]; then return 0; fi
    if [ ! -f "$root/fuzz/targets/$target/Fuzz.swift" ]; then
        echo "fuzz.sh: no target '$target' (fuzz/targets/$target/Fuzz.swift)" >&2
        return 2
    fi
    if [ "$target" = notify ]; then
        # NotifyMessage lives in the daemon; compiled into this module, it
        # must not import our own modules (their sources sit beside it here).
        sed -E '/^import (Shared|SupervisorCore)$/d' "$root/Sources/DaemonShell/Workers/NotifyMessage.swift" > "$build/NotifyMessage.swift"
        extra=("$build/NotifyMessage.swift")
    fi
    sources=$(shared_sources)
    if [ -f "$binary" ] && [ -z "$(find $sources "$root/fuzz/targets/$target" "$root/Sources/DaemonShell/Workers/NotifyMessage.swift" -newer "$binary" 2>/dev/null)" ]; then
        return 0
    fi
    echo "== building $target"
    # shellcheck disable=SC2086
    swiftc -sanitize=fuzzer,address -parse-as-library -O -g \
        -module-name "AppdFuzz_$target" $sources "${extra[@]}" "$root/fuzz/targets/$target/Fuzz.swift" \
        -o "$binary" 2>&1 | { grep -v "Cannot export local symbol" || true; }
    [ -x "$binary" ] || { echo "fuzz.sh: building $target failed" >&2; return 1; }
}

status=0
summary=()
for target in "${targets[@]}"; do
    build_target "$target" || exit $?
    mkdir -p "$work/$target"
    options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
             -artifact_prefix="$crashes/$target-")
    [ -n "$max_len" ] && options+=(-max_len="$max_len")
    [ -f "$root/fuzz/dictionaries/$target.dict" ] && options+=(-dict="$root/fuzz/dictionaries/$target.dict")
    log="$build/$target.log"
    echo "== fuzzing $target for ${seconds}s (log: $log)"
    set +e
    "$build/$target" "${options[@]}" "$work/$target" "$root/fuzz/corpus/$target" > "$log" 2>&1
    code=$?
    set -e
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    corpus=$(find "$work/$target" -type f | wc -l)
    found=$(find "$crashes" -name "$target-*" -type f | wc -l)
    summary+=("$(printf '%-9s %6ss %12s executions %6s corpus files %3s crashes' \
        "$target" "$seconds" "${executions:-?}" "$corpus" "$found")")
    if [ $code -ne 0 ] || [ "$found" -gt 0 ]; then
        status=1
        echo "!! $target: libFuzzer exited $code; the end of its log:" >&2
        tail -40 "$log" >&2
    fi
done

echo
printf '%s\n' "${summary[@]}"
if [ $status -ne 0 ]; then
    echo "crashing inputs: $crashes"
else
    rmdir "$crashes" 2>/dev/null || true
    echo "no crash"
fi
exit $status
