#!/usr/bin/env bash
# The main job on one machine: setup, build, a private PostgreSQL (unless --db DSN), the coordinator,
# two CPU workers, sweeps/quickstart.yaml submitted and watched to completion, the leaderboard
# printed, everything stopped cleanly.
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
RUN=$(mktemp -d "$PWD/run/demo.XXXXXX" 2>/dev/null || { mkdir -p run; mktemp -d "$PWD/run/demo.XXXXXX"; })
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -z "$DB" ] && deploy/local/pg.sh stop "$RUN"
  echo "== stopped; logs in $RUN"
}
trap cleanup EXIT
if [ -z "$DB" ]; then
  echo "== starting a private PostgreSQL"
  DSN=$(deploy/local/pg.sh start "$RUN")
else
  DSN=$DB
fi
echo "== starting the coordinator"
"$B/coordinator/sweepfarm-coordinator" --db "$DSN" --listen 127.0.0.1:0 --address-file "$RUN/address" \
  2>"$RUN/coordinator.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$RUN/address" ] && break; sleep 0.1; done
[ -s "$RUN/address" ] || { cat "$RUN/coordinator.log" >&2; exit 1; }
ADDR=$(cat "$RUN/address")
echo "   coordinator at $ADDR"
THREADS=$(( $(nproc) / WORKERS )); [ "$THREADS" -ge 1 ] || THREADS=1
for i in $(seq "$WORKERS"); do
  "$B/worker/sweepfarm-worker" --coordinator "$ADDR" --device cpu --capacity 4 --threads "$THREADS" \
    2>"$RUN/worker$i.log" &
  pids+=($!)
done
echo "== submitting $SWEEP"
ID=$("$B/cli/sweepctl" --coordinator "$ADDR" submit "$SWEEP")
"$B/cli/sweepctl" --coordinator "$ADDR" watch "$ID"
echo "== leaderboard (top 10 of sweep $ID)"
"$B/cli/sweepctl" --coordinator "$ADDR" leaderboard "$ID" --top 10
"$B/cli/sweepctl" --coordinator "$ADDR" status "$ID"
echo "== ensembles of the best trials, chosen on the selection split, scored on the holdout split"
"$B/cli/sweepctl" --coordinator "$ADDR" ensemble "$ID"
