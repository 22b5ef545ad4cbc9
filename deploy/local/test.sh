#!/usr/bin/env bash
# Sets up, builds and runs every test (unit, engine, integration against a private PostgreSQL).
# Extra arguments go to ctest, e.g. deploy/local/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/local/setup.sh
echo "== building"
deploy/local/build.sh
. deploy/local/env.sh
echo "== testing"
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 600 -j "$(nproc)" "$@"
