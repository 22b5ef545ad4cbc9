#!/usr/bin/env bash
# Prediction latency through the registry: trains and publishes a 5-member top-k ensemble of the
# telemetry CNN (a private PostgreSQL, the coordinator, one CPU worker), then sweepfarm-predict looks
# the champion up over gRPC, loads and verifies it, classifies the holdout split and times N
# single-sample predictions on one CPU thread; then the same through the prediction service
# (sweepfarm-serve, one thread per call): the holdout split in one Predict call, and N
# single-sample round trips over loopback gRPC; then the cost of recording predictions (the
# default, --record-fraction 1) against a second service that records none, alternating
# --rounds (5) rounds of N round trips on each: once as everything runs (on a 2-core machine
# the coordinator and PostgreSQL storing the records compete with the service), and once with
# the services and their client on CPU 0 and the coordinator, PostgreSQL and the worker on
# CPU 1, as when the database is elsewhere. Prints, and with --json writes, the figures.
#   bench/predict_latency.sh [--db DSN] [--runs N] [--members K] [--rounds R] [--json PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
DB=""; RUNS=5000; MEMBERS=5; JSON=""; ROUNDS=5
while [ $# -gt 0 ]; do
  case "$1" in
    --db) DB=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --members) MEMBERS=$2; shift 2 ;;
    --json) JSON=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    *) echo "predict_latency.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
B=${BUILD_DIR:-build}
[ -x "$B/predict/sweepfarm-predict" ] || deploy/local/build.sh >/dev/null
. deploy/local/env.sh
. deploy/local/farm.sh
farm_begin predict
farm_database
farm_coordinator
farm_spawn worker.log "$B/worker/sweepfarm-worker" --coordinator "$ADDR" --device cpu --capacity 8 \
  --upload-top 8
MODEL="latency-bench-$(date +%s)"
cat >"$RUN/sweep.yaml" <<YAML
version: 1
name: predict-latency
model: $MODEL
dataset:
  name: telemetry
  params: {seed: 7, lab_samples: 5275, escalation_samples: 2000}
architecture: {name: cnn1d, channels: [16, 32]}
search:
  method: grid
  space:
    epochs: 6
    step_size: [0.004, 0.008]
    issue_rate: [0.4, 0.6]
    seed: [1, 2]
selection: {method: top_k, top_k: $MEMBERS, candidates: 8}
YAML
"$B/cli/sweepctl" --coordinator "$ADDR" nightly "$RUN/sweep.yaml" >"$RUN/nightly.txt"
OUT=$("$B/predict/sweepfarm-predict" --coordinator "$ADDR" --model "$MODEL" --split holdout \
  --quiet --bench "$RUNS" --threads 1 2>"$RUN/predict.log")
cat "$RUN/predict.log" >&2
echo "$OUT"
farm_spawn serve.log "$B/predict/sweepfarm-serve" --coordinator "$ADDR" --model "$MODEL" \
  --listen 127.0.0.1:0 --address-file "$RUN/serve-address" --threads 1
SERVE=$(farm_address serve-address serve.log)
SERVED=$("$B/predict/sweepfarm-predict" --coordinator "$ADDR" --model "$MODEL" --server "$SERVE" \
  --split holdout --quiet --bench "$RUNS" 2>"$RUN/predict-served.log")
cat "$RUN/predict-served.log" >&2
echo "$SERVED"
farm_spawn serve-unrecorded.log "$B/predict/sweepfarm-serve" --coordinator "$ADDR" \
  --model "$MODEL" --listen 127.0.0.1:0 --address-file "$RUN/serve-unrecorded-address" \
  --threads 1 --record-fraction 0
UNRECORDED=$(farm_address serve-unrecorded-address serve-unrecorded.log)
p50() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["latency_ms"]["p50"])'; }
# RECORDING=JSON of the p50s of --rounds alternating rounds on each service; PIN: a taskset
# prefix for the client.
measure() {
  local recorded=() unrecorded=() p target
  for _ in $(seq "$ROUNDS"); do
    for target in "$SERVE" "$UNRECORDED"; do
      p=$($PIN "$B/predict/sweepfarm-predict" --coordinator "$ADDR" --model "$MODEL" \
        --server "$target" --split holdout --limit 1 --quiet --bench "$RUNS" 2>/dev/null | p50)
      if [ "$target" = "$SERVE" ]; then recorded+=("$p"); else unrecorded+=("$p"); fi
    done
  done
  python3 - "${recorded[*]}" "${unrecorded[*]}" <<'PY'
import json, statistics, sys
r = [float(x) for x in sys.argv[1].split()]
u = [float(x) for x in sys.argv[2].split()]
print(json.dumps({"p50_ms_recorded": r, "p50_ms_unrecorded": u,
                  "overhead": round(statistics.median(r) / statistics.median(u) - 1, 4)}))
PY
}
PIN=""
SHARED=$(measure)
echo "recording every answer, all processes sharing the CPUs: $SHARED" >&2
PINNED=null
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  for pid in $(pgrep -f "sweepfarm-coordinator --db" ; pgrep -f sweepfarm-worker; pgrep -u postgres postgres); do
    taskset -apc 1 "$pid" >/dev/null 2>&1 || true
  done
  for pid in $(pgrep -f sweepfarm-serve); do taskset -apc 0 "$pid" >/dev/null 2>&1 || true; done
  PIN="taskset -c 0"
  PINNED=$(measure)
  echo "recording every answer, the service and its client on CPU 0, the rest on CPU 1: $PINNED" >&2
fi
RECORDING="{\"shared\": $SHARED, \"pinned\": $PINNED}"
echo "$RECORDING"
if [ -n "$JSON" ]; then
  mkdir -p "$(dirname "$JSON")"
  printf '{"date":"%s","commit":"%s","cpu":"%s","result":%s,"served":%s,"recording":%s}\n' \
    "$(date -u +%F)" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)" "$OUT" "$SERVED" "$RECORDING" \
    >"$JSON"
fi
