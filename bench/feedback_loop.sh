#!/usr/bin/env bash
# The feedback loop for several nights, with the simulator playing the engineers (docs/data.md).
# Night 1 trains on a fifth of the labelled data the last night trains on (a fifth of the lab data,
# 300 escalations to select on and 300 to hold out). Each night the nightly sweep (dataset.feedback:
# true) grows the data by what was labelled since, trains, ensembles and gates; the champion
# serves the next batch of new customer escalations through sweepfarm-serve, which records them;
# a simulated engineer labels each (wrong in --error-rate of them, default 5%) with sweepctl
# feedback. Every night's champion is scored on 1,000 escalations that the loop never sees,
# beside a model trained the same way on all the data at once (what the last night has, correctly
# labelled). Prints a
# table, writes the plot (feedback_loop.svg) and results.json in the run directory, and ends
# with one line of JSON: {"nights": [acc1, acc2, ...], "all_data": acc}.
#   bench/feedback_loop.sh [--quick] [--nights N] [--error-rate E] [--db DSN] [--workers N]
#                          [--seed S] [--out DIR]
# --quick: 4 nights on smaller data (under 10 minutes on 2 cores); the full run, 5 nights.
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=0; NIGHTS=""; ERROR=0.05; DB=""; WORKERS=2; SEED=11; OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --nights) NIGHTS=$2; shift 2 ;;
    --error-rate) ERROR=$2; shift 2 ;;
    --db) DB=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "feedback_loop.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
# Batches are labelled after nights 1 .. N-1; the start is a fifth of what night N trains on:
# lab/5 + 600 = (lab/5 + 600 + (N - 1) x batch) / 5.
if [ "$QUICK" = 1 ]; then LAB=2000; NIGHTS=${NIGHTS:-4}; else LAB=5275; NIGHTS=${NIGHTS:-5}; fi
[ "$NIGHTS" -ge 2 ] || { echo "feedback_loop.sh: --nights must be at least 2" >&2; exit 2; }
BATCH=$(( 4 * (LAB / 5 + 600) / (NIGHTS - 1) ))
ESCALATIONS=$(( 1600 + (NIGHTS - 1) * BATCH + 100 ))
B=${BUILD_DIR:-build}
[ -x "$B/coordinator/sweepfarm-coordinator" ] || deploy/local/build.sh >/dev/null
. deploy/local/env.sh
. deploy/local/farm.sh
farm_begin feedback-loop
OUT=${OUT:-$RUN}
mkdir -p "$OUT"
farm_database
farm_coordinator
for i in $(seq "$WORKERS"); do
  farm_spawn "worker$i.log" "$B/worker/sweepfarm-worker" --coordinator "$ADDR" --device cpu \
    --capacity 8 --threads 1 --cache-dir "$RUN/cache$i"
done
ctl() { "$B/cli/sweepctl" --coordinator "$ADDR" "$@"; }
py() { python3 bench/feedback_loop.py "$@"; }
T0=$(date +%s)

# The simulator's lab data and escalations, cut into the loop's parts.
ctl data generate telemetry --param "seed=$SEED,lab_samples=$LAB,escalation_samples=$ESCALATIONS" \
  >"$RUN/generated"
ctl data export "$(cat "$RUN/generated")" "$RUN/pool.csv.gz" 2>/dev/null
py split "$RUN/pool.csv.gz" "$RUN" "$((NIGHTS - 1))" "$BATCH" "$SEED" >"$RUN/split.json"
ctl data import escalations "$RUN/start.csv" --shape 16x64 --classes healthy,faulty >/dev/null

sweep() {  # NAME DATASET FEEDBACK: the nightly sweep's file, on the farm's telemetry CNN.
  cat <<EOF
version: 1
name: $1
model: $1
dataset: {name: $2, feedback: $3}
architecture: {name: cnn1d, channels: [16, 32], kernel_size: 5}
training: {batch_size: 64, momentum: 0.9}
search:
  method: grid
  space:
    epochs: [4, 8]
    step_size: [0.005, 0.01]
    issue_rate: [0.5, 0.7]
    data_size: 1.0
    seed: [1, 2]
selection: {ensemble_size: 5, candidates: 8, threshold: tuned}
EOF
}
sweep loop escalations true >"$RUN/loop.yaml"
champion() { ctl registry show loop --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])'; }

nights=()
printf '%-6s %8s %8s %9s %8s %9s %s\n' night samples added champion version test_acc "(gate)" >&2
for n in $(seq "$NIGHTS"); do
  ctl nightly "$RUN/loop.yaml" --json >"$RUN/night-$n.json" 2>"$RUN/night-$n.log"
  v=$(champion)
  "$B/predict/sweepfarm-predict" --coordinator "$ADDR" --model loop --input "$RUN/test.txt" \
    --json >"$RUN/test-$n.json" 2>/dev/null
  acc=$(py score "$RUN/test-$n.json" "$RUN/test.labels")
  nights+=("$acc")
  read -r samples added decision < <(ctl data show escalations --json | python3 -c '
import json, sys
v = json.load(sys.stdin)
n = sum(s["samples"] for s in v["splits"].values())
print(n, v["feedback_samples"], "")')
  decision=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["publish"]["version"]["decision"])' "$RUN/night-$n.json")
  printf '%-6s %8s %8s %9s %8s %9s %s\n' "$n" "$samples" "$added" "v$v" \
    "$(python3 -c 'import json,sys; print("v%d" % json.load(open(sys.argv[1]))["publish"]["version"]["version"])' "$RUN/night-$n.json")" \
    "$acc" "($decision)" >&2
  [ "$n" = "$NIGHTS" ] && break
  # The day: the champion answers the next batch through the service, which records each answer.
  [ -n "${SERVE_PID:-}" ] || {
    farm_spawn serve.log "$B/predict/sweepfarm-serve" --coordinator "$ADDR" --model loop \
      --listen 127.0.0.1:0 --address-file "$RUN/serve-address" --refresh-seconds 1
    SERVE_PID=$!
    SERVED=$(farm_address serve-address serve.log)
  }
  for _ in $(seq 60); do  # The service follows the alias within a refresh.
    "$B/predict/sweepfarm-predict" --server "$SERVED" --input "$RUN/test.txt" --limit 1 --quiet \
      2>/dev/null | grep -q "\"version\":$v," && break
    sleep 0.5
  done
  "$B/predict/sweepfarm-predict" --server "$SERVED" --input "$RUN/batch-$n.txt" --json \
    >"$RUN/answers-$n.json" 2>/dev/null
  sleep 1  # The service sends what it recorded every 200 ms.
  py label "$RUN/answers-$n.json" "$RUN/batch-$n.labels" "$ERROR" "$((SEED + n))" \
    "$RUN/feedback-$n.csv" >"$RUN/label-$n.json"
  ctl feedback --file "$RUN/feedback-$n.csv" >/dev/null
done

# The same sweep on all the data at once, correctly labelled.
ctl data import all-data "$RUN/all.csv" --shape 16x64 --classes healthy,faulty \
  --split-column split >/dev/null
sweep all-data all-data false >"$RUN/all.yaml"
ctl nightly "$RUN/all.yaml" --json >"$RUN/all.json" 2>"$RUN/all.log"
"$B/predict/sweepfarm-predict" --coordinator "$ADDR" --model all-data --input "$RUN/test.txt" \
  --json >"$RUN/test-all.json" 2>/dev/null
all=$(py score "$RUN/test-all.json" "$RUN/test.labels")
echo "all data at once: $all (the last night: ${nights[-1]}); $(( $(date +%s) - T0 )) s" >&2
list=$(IFS=,; echo "${nights[*]}")
printf '{"nights": [%s], "all_data": %s, "test_samples": 1000, "error_rate": %s, "batch": %s, "seed": %s, "quick": %s, "date": "%s", "commit": "%s", "cpu": "%s"}\n' \
  "$list" "$all" "$ERROR" "$BATCH" "$SEED" "$QUICK" "$(date -u +%F)" \
  "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)" >"$OUT/results.json"
py plot "$OUT/results.json" "$OUT/feedback_loop.svg"
echo "plot: $OUT/feedback_loop.svg" >&2
printf '{"nights": [%s], "all_data": %s}\n' "$list" "$all"
