#!/usr/bin/env bash
# Sets up, builds and runs every test (unit, engine, integration against a private PostgreSQL),
# then runs them again under sanitizers (deploy/local/sanitize.sh: every test with
# AddressSanitizer and UndefinedBehaviorSanitizer, the engine's with ThreadSanitizer;
# SANITIZE=0 skips that); between them it fuzzes the sweep file and data file parsers with
# libFuzzer for 30 s each (fuzz/run.sh; FUZZ=0 skips it, FUZZ_SECONDS=S sets the time).
# Extra arguments go to ctest in both passes, e.g. deploy/local/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/local/setup.sh
echo "== building"
deploy/local/build.sh
. deploy/local/env.sh
echo "== testing"
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure --timeout 600 -j "$(nproc)" "$@")
if [ "${FUZZ:-1}" != 0 ]; then
  echo "== fuzzing the parsers for ${FUZZ_SECONDS:-30} s each (fuzz/run.sh)"
  fuzz/run.sh --seconds "${FUZZ_SECONDS:-30}"
fi
if [ "${SANITIZE:-1}" != 0 ]; then
  echo "== testing again under sanitizers"
  deploy/local/sanitize.sh "$@"
fi
