#!/usr/bin/env bash
# Sets up, builds and runs every test (unit, engine, integration against a private PostgreSQL),
# then builds everything again with AddressSanitizer and UndefinedBehaviorSanitizer and runs every
# test once more (deploy/local/sanitize.sh; SANITIZE=0 skips that pass).
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
  echo "== testing again with AddressSanitizer and UndefinedBehaviorSanitizer"
  deploy/local/sanitize.sh "$@"
fi
