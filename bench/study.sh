#!/usr/bin/env bash
# The PerfPsychic study's figures, through the farm, on the telemetry (issue 20): holdout accuracy
# of the telemetry CNN against the training data's size, the epochs, the step size and the issue
# rate of the training mix (one parameter at a time around epochs 8, step size 0.005, issue rate
# 0.5, all the data), its training time against data size x epochs, and the CNN against the
# farm's other model kinds (MLP, logistic regression, linear SVM). Every point is the mean over
# data-order seeds (5; --quick: 2) of the trials' holdout accuracy on the escalation data (the
# customer-like split), with its standard deviation. Workers take one trial per lease, so each
# trial's wall time is its own training. Writes OUTDIR/table.json and one SVG per figure
# (bench/study.py). Private PostgreSQL unless --db DSN.
#   bench/study.sh [--quick] [--db DSN] [--workers N] OUTDIR
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=0
OUT=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --db | --workers) args+=("$1" "$2"); shift 2 ;;
    -*) echo "study.sh: unknown argument $1" >&2; exit 2 ;;
    *) OUT=$1; shift ;;
  esac
done
[ -n "$OUT" ] || { echo "usage: bench/study.sh [--quick] [--db DSN] [--workers N] OUTDIR" >&2; exit 2; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
if [ "$QUICK" = 1 ]; then
  SEEDS="[1, 2]"; EPOCHS="[1, 2, 4, 8, 16]"
else
  SEEDS="[1, 2, 3, 4, 5]"; EPOCHS="[1, 2, 4, 8, 16, 32]"
fi
set -- "${args[@]+"${args[@]}"}" --capacity 1
BENCH=study
. bench/sweep_farm.sh
START=$(date +%s)

# A sweep of the CNN on the quickstart's data, searching `space` (YAML lines) around the
# baseline; prints its id.
study_sweep() {
  local name=$1 space=$2
  cat >"$RUN/$name.yaml" <<EOF
version: 1
name: study-$name
model: study-$name
dataset:
  name: telemetry
  params: {seed: 7, lab_samples: 5275, escalation_samples: 2000}
architecture: {name: cnn1d, channels: [16, 32], kernel_size: 5}
training: {batch_size: 64, momentum: 0.9}
search:
  method: grid
  space:
$space
    seed: $SEEDS
EOF
  run_sweep "$RUN/$name.yaml"
}
base() {  # The baseline's lines, without the parameter `$1`.
  printf '    epochs: [8]\n    step_size: [0.005]\n    issue_rate: [0.5]\n    data_size: [1.0]\n' |
    grep -v "^    $1:"
}
declare -A ID
ID[data_size]=$(study_sweep data_size "$(base data_size)
    data_size: [0.1, 0.2, 0.4, 0.6, 0.8, 1.0]")
ID[epochs]=$(study_sweep epochs "$(base epochs)
    epochs: $EPOCHS")
ID[step_size]=$(study_sweep step_size "$(base step_size)
    step_size: [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.02, 0.05]")
ID[issue_rate]=$(study_sweep issue_rate "$(base issue_rate)
    issue_rate: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]")
ID[time]=$(study_sweep time "    step_size: [0.005]
    issue_rate: [0.5]
    data_size: [0.25, 0.5, 1.0]
    epochs: [2, 4, 8]")
ID[kinds]=$(study_sweep kinds "$(base none)
    architecture: [cnn1d, mlp, logistic, linear_svm]")

# Per sweep, per value of its parameter: mean and standard deviation of the holdout accuracy over
# the seeds, their number, the mean wall seconds of a trial, and the mean of the trials'
# all-"issue" baseline accuracy.
points() {  # sweep id, JSON path of the parameter's value
  sql "SELECT coalesce(json_agg(p ORDER BY p.sort, p.x), '[]') FROM (
         SELECT t.params->>'$2' AS x,
                CASE WHEN jsonb_typeof(t.params->'$2') = 'number'
                     THEN (t.params->>'$2')::float8 ELSE 0 END AS sort,
                avg(r.holdout_accuracy) AS mean, coalesce(stddev_samp(r.holdout_accuracy), 0) AS sd,
                count(*) AS n, avg(r.wall_seconds) AS seconds,
                avg(r.baseline_accuracy) AS baseline
         FROM trials t JOIN results r ON r.trial_id = t.id
         WHERE t.sweep_id = $1 GROUP BY 1, 2) p"
}
timing() {  # the time sweep: each trial's data size x epochs and wall seconds
  sql "SELECT json_agg(json_build_object(
           'x', (t.params->>'data_size')::float8 * (t.params->>'epochs')::int,
           'data_size', (t.params->>'data_size')::float8, 'epochs', (t.params->>'epochs')::int,
           'seconds', r.wall_seconds) ORDER BY t.id)
       FROM trials t JOIN results r ON r.trial_id = t.id WHERE t.sweep_id = ${ID[time]}"
}
{
  printf '{"quick": %s, "seconds": %s, "seeds": %s,\n' \
    "$([ "$QUICK" = 1 ] && echo true || echo false)" "$(($(date +%s) - START))" "$(tr -d ' ' <<<"$SEEDS")"
  printf ' "machine": "%s, %s CPU cores", "commit": "%s", "date": "%s",\n' \
    "$(uname -m)" "$(getconf _NPROCESSORS_ONLN)" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(date -u +%F)"
  for p in data_size epochs step_size issue_rate; do
    printf ' "%s": %s,\n' "$p" "$(points "${ID[$p]}" "$p")"
  done
  printf ' "architecture": %s,\n' "$(points "${ID[kinds]}" architecture)"
  printf ' "time": %s}\n' "$(timing)"
} >"$OUT/table.json"
python3 bench/study.py "$OUT/table.json" "$OUT"
echo "study: $(ls "$OUT" | tr '\n' ' ')in $OUT ($(($(date +%s) - START)) s)" >&2
