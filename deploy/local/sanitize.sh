#!/usr/bin/env bash
# Builds everything with AddressSanitizer (leak checking included) and UndefinedBehaviorSanitizer
# into SANITIZE_BUILD_DIR (default build-asan/) and runs every test there: the unit tests, and the
# integration and fault tests, whose coordinators, workers and sweepctl are the instrumented
# binaries too. A report stops the process that made it (no recovery). A test binary's own report
# fails its test; the processes a test starts write theirs into the test's logs, which are kept
# and searched afterwards, so a report there fails the run even if its test passed.
# Extra arguments go to ctest. Assumes deploy/local/setup.sh has run (test.sh runs it).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${SANITIZE_BUILD_DIR:-build-asan}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS=-O1 \
  -DSWEEPFARM_SANITIZE=address,undefined >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
. deploy/local/env.sh
logs=$(mktemp -d /tmp/sweepfarm-sanitize.XXXXXX)
export SWEEPFARM_TEST_TMPDIR=$logs SWEEPFARM_KEEP_TEST_DIRS=1
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
rc=0
(cd "$BUILD_DIR" && ctest --output-on-failure --timeout 1200 -j "$(nproc)" "$@") || rc=$?
pattern='runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer|SUMMARY: (Address|UndefinedBehavior|Leak)Sanitizer'
if reports=$(grep -rlE "$pattern" "$logs"); then
  echo "== sanitizer reports in the logs of processes the tests started:"
  for f in $reports; do echo "-- $f"; grep -E -A30 "$pattern" "$f" | head -60; done
  rc=1
  echo "(logs kept in $logs)"
else
  echo "== no sanitizer report in $(find "$logs" -name '*.log' | wc -l) process logs"
  rm -rf "$logs"
fi
exit $rc
