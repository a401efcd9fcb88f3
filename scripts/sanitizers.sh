#!/usr/bin/env bash
# Builds and runs the test suite under sanitizers. Not part of CI (.ci/run
# runs only scripts/test.sh); slow: each sanitizer is a full build of its own.
#
#   scripts/sanitizers.sh [--filter PATTERN] [address] [thread] [undefined]
#
#   address    AddressSanitizer (and LeakSanitizer) on every target, Swift and C
#   thread     ThreadSanitizer on every target
#   undefined  UndefinedBehaviorSanitizer on the C target (CSystem); swiftc has
#              no UBSan on Linux, and Swift traps on overflow and bounds anyway
#
# Default: all three, one after another. Each builds in its own scratch
# directory (.build-asan, .build-tsan, .build-ubsan) so the normal .build is
# left alone. The tests start the real appd, appctl and demo-worker, built
# with the same sanitizer; every process writes its reports to a file in a
# temporary directory (log_path), so a report in a daemon or a worker counts
# as much as one in the test process. The script fails when a test fails or
# when any report was written, and prints the reports. It exports
# APPD_SANITIZER=<sanitizer>: under address and thread the tests still run
# whole but do not check their latency bounds (they print what they measured).
set -uo pipefail

cd "$(dirname "$0")/.."

filter=()
sanitizers=()
while [ $# -gt 0 ]; do
    case "$1" in
        --filter) filter=(--filter "${2:?--filter needs a pattern}"); shift 2 ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        address|thread|undefined) sanitizers+=("$1"); shift ;;
        *) echo "sanitizers.sh: unknown argument '$1' (address, thread, undefined, --filter PATTERN)" >&2; exit 2 ;;
    esac
done
[ ${#sanitizers[@]} -gt 0 ] || sanitizers=(address thread undefined)

# A trap should end a process at once, not wait for Swift's backtracer.
export SWIFT_BACKTRACE=enable=no
# Two tests at a time (Swift Testing runs them all side by side otherwise):
# every process is several times slower under a sanitizer, and on a 2-core
# machine a dozen end-to-end tests at once starve each other's workers. All
# side by side, TSan runs failed tests on timing (a python worker missing its
# 1 s watchdog, a crash loop looked at after its restarts were held back, a
# python server not bound within its 1 s readiness); two at a time, the same
# run passed, and sooner (152 s against 185 s, the machine shared either
# way). Nothing is checked less; set the variable to change the width.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-2}

status=0
results=()
for sanitizer in "${sanitizers[@]}"; do
    reports=$(mktemp -d "${TMPDIR:-/tmp}/appd-$sanitizer.XXXXXX")
    case "$sanitizer" in
        address)
            scratch=.build-asan
            flags=(--sanitize=address)
            export ASAN_OPTIONS="log_path=$reports/asan:abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1"
            # Known leaks of the toolchain's libraries, reached only from the test harness.
            export LSAN_OPTIONS="log_path=$reports/lsan:suppressions=$(pwd)/scripts/lsan.supp:print_suppressions=0"
            ;;
        thread)
            scratch=.build-tsan
            flags=(--sanitize=thread)
            # Synchronization.Mutex is invisible to TSan in this toolchain: see scripts/tsan.supp.
            export TSAN_OPTIONS="log_path=$reports/tsan:halt_on_error=1:second_deadlock_stack=1:suppressions=$(pwd)/scripts/tsan.supp"
            ;;
        undefined)
            scratch=.build-ubsan
            # C code only: instrumented by clang, linked with the UBSan runtime.
            flags=(-Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined -Xcc -fno-omit-frame-pointer
                   -Xswiftc -Xclang-linker -Xswiftc -fsanitize=undefined)
            export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1"
            ;;
    esac
    # The tests read it: under address and thread (never undefined, which
    # instruments only the C target) they do not hold appd to their latency
    # bounds, which would measure the sanitizer's slowdown; see
    # Tests/AppdTests/EndToEnd/Support/LatencyBounds.swift.
    export APPD_SANITIZER=$sanitizer
    echo "== $sanitizer: building in $scratch"
    started=$(date +%s)
    if ! swift build --build-tests --scratch-path "$scratch" "${flags[@]}"; then
        results+=("$sanitizer: build failed")
        status=1
        continue
    fi
    echo "== $sanitizer: testing (reports go to $reports)"
    swift test --skip-build --scratch-path "$scratch" "${flags[@]}" "${filter[@]}" 2>&1 | tee "$reports/test-output.txt" | tail -40
    tests=${PIPESTATUS[0]}
    took=$(( $(date +%s) - started ))
    found=$(find "$reports" -type f ! -name test-output.txt | wc -l)
    if [ "$found" -gt 0 ]; then
        echo "!! $sanitizer: $found report file(s):" >&2
        for report in $(find "$reports" -type f ! -name test-output.txt | sort); do
            echo "--- $report" >&2
            head -60 "$report" >&2
        done
    fi
    summary=$(grep -E "^(✔|✘) Test run with|Executed [0-9]+ tests" "$reports/test-output.txt" | tail -2 | tr '\n' ' ')
    results+=("$sanitizer: tests exited $tests, $found report(s), ${took}s; $summary")
    if [ "$tests" -ne 0 ] || [ "$found" -gt 0 ]; then status=1; else rm -rf "$reports"; fi
done

echo
printf '%s\n' "${results[@]}"
exit $status
