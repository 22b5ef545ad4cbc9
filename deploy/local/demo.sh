#!/usr/bin/env bash
# The main job on one machine: setup, build, a private PostgreSQL (unless --db DSN), the coordinator,
# two CPU workers, then two nights of the nightly loop: sweeps/quickstart.yaml (the first champion)
# and sweeps/nightly.yaml (seeded from it, gated against it), each submitted, watched, ensembled
# and published; the registry shown; the champion served by sweepfarm-predict; everything stopped.
#   deploy/local/demo.sh [--db DSN] [--sweep FILE] [--workers N]
set -euo pipefail
cd "$(dirname "$0")/../.."
DB=""; SWEEP=sweeps/quickstart.yaml; WORKERS=2
while [ $# -gt 0 ]; do
  case "$1" in
    --db) DB=$2; shift 2 ;;
    --sweep) SWEEP=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    *) echo "demo.sh: unknown argument $1 (use --db DSN, --sweep FILE, --workers N)" >&2; exit 2 ;;
  esac
done
deploy/local/setup.sh
echo "== building"
deploy/local/build.sh
. deploy/local/env.sh
B=${BUILD_DIR:-build}
. deploy/local/farm.sh
farm_begin demo
FARM_EXIT_MESSAGE="== stopped; logs in $RUN"
[ -z "$DB" ] && echo "== starting a private PostgreSQL"
farm_database
echo "== starting the coordinator"
farm_coordinator
echo "   coordinator at $ADDR"
THREADS=$(( $(nproc) / WORKERS )); [ "$THREADS" -ge 1 ] || THREADS=1
for i in $(seq "$WORKERS"); do
  farm_spawn "worker$i.log" "$B/worker/sweepfarm-worker" --coordinator "$ADDR" --device cpu \
    --capacity 4 --threads "$THREADS"
done
CTL=("$B/cli/sweepctl" --coordinator "$ADDR")
echo "== night 1: $SWEEP (no champion yet)"
"${CTL[@]}" nightly "$SWEEP"
echo "== night 2: sweeps/nightly.yaml, seeded from the champion"
"${CTL[@]}" nightly sweeps/nightly.yaml | tee "$RUN/night2.txt"
ID=$(sed -n 's/^nightly .*: sweep \([0-9]*\),.*/\1/p' "$RUN/night2.txt")
echo "== leaderboard of night 2 (top 10; origin: seed / neighbour of a parent trial)"
"${CTL[@]}" leaderboard "$ID" --top 10
echo "== ensembles of night 2, chosen on the selection split, scored on the holdout split"
"${CTL[@]}" ensemble "$ID"
echo "== registry"
"${CTL[@]}" registry list storage-fault-detector
"${CTL[@]}" registry show storage-fault-detector
echo "== serving: sweepfarm-predict loads the champion through the registry (first 5 holdout samples)"
"$B/predict/sweepfarm-predict" --coordinator "$ADDR" --model storage-fault-detector --split holdout --limit 5
"$B/predict/sweepfarm-predict" --coordinator "$ADDR" --model storage-fault-detector --split holdout \
  --quiet --bench 2000 --threads 1
