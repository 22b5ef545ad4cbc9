#!/usr/bin/env bash
# Runs the tests again under sanitizers, in two builds:
#  1. AddressSanitizer (leak checking included) + UndefinedBehaviorSanitizer, in build-asan/: the
#     unit tests and the integration tests, whose coordinators, workers and sweepctl are
#     instrumented too. The fault tests (label "fault": minutes of the same RPCs under kills and
#     restarts) and the trainer's equivalence tests (label "training": minutes of training every
#     path against separate runs; engine/threads_test.cc runs each path at its smallest here) and
#     the Slurm test (label "slurm": Slurm's daemons around the same workers) are slow checks and
#     run once, in the plain pass (SANITIZE_SLOW=1 adds them). A report stops the process that made it. A test binary's
#     own report fails its test; the processes a test starts write theirs into the test's logs,
#     which are kept and searched afterwards, so a report there fails the run even if its test
#     passed.
#  2. ThreadSanitizer, in build-tsan/ (SWEEPFARM_ENGINE_ONLY): the engine's concurrent code, the
#     tests labelled "threads" (engine/threads_test.cc): the trainer's CPU lanes and the fused
#     kernels' host emulation, one host thread per CUDA thread, where a missing __syncthreads
#     shows up as a data race; each path for a few steps of two models. The engine's long
#     equivalence tests of the same paths run once, in the plain pass (under ThreadSanitizer they
#     took 13 minutes). (The rest of the farm is left out: Debian's uninstrumented gRPC and
#     protobuf make ThreadSanitizer report races inside them and crash in protobuf's inline map
#     code.)
# SANITIZERS=asan or =tsan runs one pass. Extra arguments go to ctest. Assumes
# deploy/local/setup.sh has run (test.sh runs it).
set -euo pipefail
cd "$(dirname "$0")/../.."
. deploy/local/env.sh
passes=${SANITIZERS:-asan tsan}
rc=0

configure_and_build() {  # DIR SANITIZERS TARGET [cmake args...]
  local dir=$1 san=$2 target=$3
  shift 3
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS=-O1 \
    -DSWEEPFARM_SANITIZE="$san" "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)" --target "$target"
}

if [[ " $passes " == *" asan "* ]]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer: build-asan/"
  configure_and_build "${ASAN_BUILD_DIR:-build-asan}" address,undefined all
  logs=$(mktemp -d /tmp/sweepfarm-sanitize.XXXXXX)
  (
    export SWEEPFARM_TEST_TMPDIR=$logs SWEEPFARM_KEEP_TEST_DIRS=1
    export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    cd "${ASAN_BUILD_DIR:-build-asan}"
    skip=(-LE 'fault|training|slurm')
    [ "${SANITIZE_SLOW:-0}" = 1 ] && skip=()
    ctest --output-on-failure --timeout 1200 -j "$(nproc)" "${skip[@]}" "$@"
  ) || rc=1
  pattern='runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer'
  if reports=$(grep -rlE "$pattern" "$logs"); then
    echo "== sanitizer reports in the logs of processes the tests started:"
    for f in $reports; do echo "-- $f"; grep -E -A30 "$pattern" "$f" | head -60; done
    echo "(logs kept in $logs)"
    rc=1
  else
    echo "== no sanitizer report in $(find "$logs" -name '*.log' | wc -l) process logs"
    rm -rf "$logs"
  fi
fi

if [[ " $passes " == *" tsan "* ]]; then
  echo "== ThreadSanitizer, training engine: build-tsan/"
  configure_and_build "${TSAN_BUILD_DIR:-build-tsan}" thread engine_threads_test \
    -DSWEEPFARM_ENGINE_ONLY=ON
  (
    # Every report is printed (and the test still fails: exit code 66). tsan.supp: races
    # reported inside uninstrumented libraries.
    export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:suppressions=$PWD/deploy/local/tsan.supp"
    cd "${TSAN_BUILD_DIR:-build-tsan}"
    ctest --output-on-failure --timeout 1200 -j "$(nproc)" -L threads "$@"
  ) || rc=1
fi
exit $rc
