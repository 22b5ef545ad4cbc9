#!/usr/bin/env bash
# Control-plane benchmark: with training skipped (fake trainer), how many trial results per second
# the coordinator records in PostgreSQL with four workers, and how long submitting (validating,
# expanding and storing) a 100,000-trial sweep takes. Uses a private PostgreSQL unless --db DSN.
#   bench/control_plane.sh [--db DSN] [--trials N] [--workers N] [--capacity N]
set -euo pipefail
cd "$(dirname "$0")/.."
DB=""; TRIALS=100000; WORKERS=4; CAPACITY=64
while [ $# -gt 0 ]; do
  case "$1" in
    --db) DB=$2; shift 2 ;;
    --trials) TRIALS=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --capacity) CAPACITY=$2; shift 2 ;;
    *) echo "control_plane.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
B=${BUILD_DIR:-build}
[ -x "$B/coordinator/sweepfarm-coordinator" ] || deploy/local/build.sh >/dev/null
. deploy/local/env.sh
. deploy/local/farm.sh
farm_begin cp
farm_database
farm_coordinator --db-pool 8
cat >"$RUN/sweep.yaml" <<YAML
version: 1
name: control-plane
model: control-plane
dataset: {name: telemetry}
architecture: {name: cnn1d}
search:
  method: grid
  space:
    epochs: [1]
    step_size: 0.01
    seed: {min: 1, max: $TRIALS, steps: $TRIALS}
YAML
t0=$(date +%s.%N)
ID=$("$B/cli/sweepctl" --coordinator "$ADDR" submit "$RUN/sweep.yaml" 2>/dev/null)
t1=$(date +%s.%N)
SUBMIT=$(echo "$t1 - $t0" | bc -l)
printf 'submit: %d trials validated, expanded and stored in %.2f s\n' "$TRIALS" "$SUBMIT"
for i in $(seq "$WORKERS"); do
  farm_spawn "worker$i.log" "$B/worker/sweepfarm-worker" --coordinator "$ADDR" --trainer fake \
    --capacity "$CAPACITY"
done
count() { psql "$DSN" -Atc "SELECT count(*) FROM results"; }
# Sustained rate: from 10% to 90% of the sweep.
lo=$((TRIALS / 10)); hi=$((TRIALS * 9 / 10))
while [ "$(count)" -lt "$lo" ]; do sleep 0.2; done
a=$(count); ta=$(date +%s.%N)
while [ "$(count)" -lt "$hi" ]; do sleep 0.2; done
b=$(count); tb=$(date +%s.%N)
RATE=$(echo "($b - $a) / ($tb - $ta)" | bc -l)
printf 'results: %d recorded in %.2f s: %.0f trial results/s sustained (%d workers, bundles of %d)\n' \
  "$((b - a))" "$(echo "$tb - $ta" | bc -l)" "$RATE" "$WORKERS" "$CAPACITY"
"$B/cli/sweepctl" --coordinator "$ADDR" watch "$ID" | tail -1
