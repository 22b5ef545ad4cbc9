#!/usr/bin/env bash
# Sets up, builds and runs every test (unit, engine, integration against a private PostgreSQL),
# then runs them again under sanitizers (deploy/local/sanitize.sh: every test with
# AddressSanitizer and UndefinedBehaviorSanitizer, the engine's with ThreadSanitizer;
# SANITIZE=0 skips that).
# Extra arguments go to ctest in both passes, e.g. deploy/local/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/local/setup.sh
echo "== building"
deploy/local/build.sh
. deploy/local/env.sh
echo "== testing"
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure --timeout 600 -j "$(nproc)" "$@")
if [ "${SANITIZE:-1}" != 0 ]; then
  echo "== testing again under sanitizers"
  deploy/local/sanitize.sh "$@"
fi
