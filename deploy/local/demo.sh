#!/usr/bin/env bash
# The main job on one machine: setup, build, a private PostgreSQL (unless --db DSN), the coordinator,
# two CPU workers, then two nights of the nightly loop: sweeps/quickstart.yaml (the first champion)
# and sweeps/nightly.yaml (seeded from it, gated against it), each submitted, watched, ensembled
# and published; the registry shown; the champion served by sweepfarm-serve (started after night 1,
# it follows the champion alias) and by sweepfarm-predict; everything stopped.
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
farm_coordinator --metrics-listen 127.0.0.1:0 --metrics-address-file "$RUN/metrics-address" \
  --dashboard
WEB=$(farm_address metrics-address coordinator.log)
echo "   coordinator at $ADDR, dashboard at http://$WEB/"
THREADS=$(( $(nproc) / WORKERS )); [ "$THREADS" -ge 1 ] || THREADS=1
for i in $(seq "$WORKERS"); do
  farm_spawn "worker$i.log" "$B/worker/sweepfarm-worker" --coordinator "$ADDR" --device cpu \
    --capacity 4 --threads "$THREADS"
done
CTL=("$B/cli/sweepctl" --coordinator "$ADDR")
echo "== night 1: $SWEEP (no champion yet)"
"${CTL[@]}" nightly "$SWEEP"
echo "== starting the prediction service (sweepfarm-serve), following the champion"
farm_spawn serve.log "$B/predict/sweepfarm-serve" --coordinator "$ADDR" \
  --model storage-fault-detector --listen 127.0.0.1:0 --address-file "$RUN/serve-address" \
  --refresh-seconds 1
SERVE=$(farm_address serve-address serve.log)
echo "   serving at $SERVE"
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
echo "== the prediction service followed the champion alias through night 2 (its log)"
sleep 1.5  # One refresh after night 2's publish.
sed -n 's/.*serve.cc:[0-9]*\] //p' "$RUN/serve.log"
echo "== serving: the first 5 holdout samples through sweepfarm-serve (PredictionService.Predict)"
PRED=("$B/predict/sweepfarm-predict" --coordinator "$ADDR" --model storage-fault-detector)
"${PRED[@]}" --server "$SERVE" --split holdout --limit 5
echo "== the whole holdout split, and 2000 single-sample calls, through the service"
"${PRED[@]}" --server "$SERVE" --split holdout --quiet --bench 2000
echo "== the same in process: sweepfarm-predict loads the champion from the registry itself"
"${PRED[@]}" --split holdout --quiet --bench 2000 --threads 1
# The dashboard's pages, kept with the logs (its links are to the live coordinator's paths).
mkdir -p "$RUN/dashboard"
fetch() {  # GET $1 from the dashboard (HTTP/1.0 over bash's /dev/tcp: no curl needed), body only.
  exec 3<>"/dev/tcp/${WEB%:*}/${WEB##*:}"
  printf 'GET %s HTTP/1.0\r\n\r\n' "$1" >&3
  sed '1,/^\r$/d' <&3
  exec 3<&-
}
fetch / >"$RUN/dashboard/index.html"
fetch "/sweeps/$ID" >"$RUN/dashboard/sweeps-$ID.html"
fetch /models/storage-fault-detector >"$RUN/dashboard/models-storage-fault-detector.html"
echo "== dashboard pages saved: $RUN/dashboard/{index,sweeps-$ID,models-storage-fault-detector}.html"
