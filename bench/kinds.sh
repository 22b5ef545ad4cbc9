#!/usr/bin/env bash
# The model kinds against each other on the telemetry: sweeps/quickstart.yaml (its grid searched
# over architecture: [cnn1d, mlp, logistic], 144 trials), on each data seed (7, 8, 9 unless --seeds),
# published as the first version of its own model. Prints, per seed, each kind's best trial by
# selection accuracy with its holdout accuracy, the registered ensemble's holdout accuracy, its
# members and their kinds. Private PostgreSQL unless --db DSN. --simulator 2: on the telemetry
# simulator's version 2 (docs/telemetry.md). --kinds: the kinds searched instead of the three
# (e.g. "cnn1d mlp logistic linear_svm"; 48 trials each).
#   bench/kinds.sh [--db DSN] [--workers N] [--capacity N] [--seeds "7 8 9"] [--simulator 1|2]
#                  [--kinds "KIND..."]
set -euo pipefail
cd "$(dirname "$0")/.."
SIMULATOR=1
KINDS="cnn1d mlp logistic"
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --simulator) SIMULATOR=$2; shift 2 ;;
    --kinds) KINDS=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
set -- "${args[@]+"${args[@]}"}"
BENCH=kinds
. bench/sweep_farm.sh
STAMP=$(date +%s)
printf '%-5s %-10s %9s %9s   %s\n' seed kind best.sel its.hold "" >&2
for seed in $DATA_SEEDS; do
  model="kinds-$seed-$STAMP"
  extra=""
  [ "$SIMULATOR" = 1 ] || extra="\n    simulator_version: $SIMULATOR"
  grep -q "^    architecture: \[cnn1d, mlp, logistic\]" sweeps/quickstart.yaml ||
    { echo "kinds.sh: sweeps/quickstart.yaml no longer searches the three kinds" >&2; exit 1; }
  sed -e "s/^    seed: 7$/    seed: $seed$extra/" -e "s/^model: .*/model: $model/" \
    -e "s/^    architecture: \[cnn1d, mlp, logistic\]/    architecture: [${KINDS// /, }]/" \
    sweeps/quickstart.yaml >"$RUN/$seed.yaml"
  id=$(run_sweep "$RUN/$seed.yaml")
  ctl registry publish "$id" >/dev/null
  for kind in $KINDS; do
    sql "SELECT '$seed', '$kind', round(r.selection_accuracy::numeric, 4),
           round(r.holdout_accuracy::numeric, 4)
         FROM results r JOIN trials t ON t.id = r.trial_id
         WHERE t.sweep_id = $id AND t.params->>'architecture' = '$kind'
         ORDER BY r.selection_accuracy DESC, t.id LIMIT 1" |
      awk -F'|' '{printf "%-5s %-10s %9s %9s\n", $1, $2, $3, $4}'
  done
  ctl registry show "$model" --json | python3 -c '
import json, sys
v = json.load(sys.stdin)
kinds = {}
for m in v["members"]:
    k = m["params"].get("architecture", "cnn1d")
    kinds[k] = kinds.get(k, 0) + 1
print("%-5s %-10s %9s %9.4f   %d member(s): %s" % (sys.argv[1], "ensemble", "", v["holdout_accuracy"],
      len(v["members"]), ", ".join("%s x%d" % kv for kv in sorted(kinds.items()))))' "$seed"
done
