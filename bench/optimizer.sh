#!/usr/bin/env bash
# Optimisers and step-size schedules (training.optimizer, training.schedule): sweeps/quickstart.yaml's
# CNN (48 trials, its search over model kinds left out; data seed 7 unless --seed) trained with
# SGD (momentum 0.9) at a constant step size, SGD under the cosine schedule, and AdamW (weight
# decay 0.01) under the cosine schedule with step sizes a tenth of SGD's (Adam's steps are about
# one step size each), each published as the first version of its own model. Prints, for each,
# the best single trial's selection and holdout accuracy and the registered ensemble's holdout
# accuracy. Private PostgreSQL unless --db DSN.
#   bench/optimizer.sh [--db DSN] [--workers N] [--capacity N] [--seed S]
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=optimizer
. bench/sweep_farm.sh
[ "$SEED" = 1 ] && SEED=7  # sweep_farm.sh's default is a search seed; the data's is 7.
STAMP=$(date +%s)
printf '%-18s %10s %10s %10s %10s\n' training best.sel best.hold champion members
for variant in sgd-constant sgd-cosine adamw-cosine; do
  optimizer=${variant%-*} schedule=${variant#*-}
  [ "$optimizer" = adamw ] && steps='[0.00025, 0.0005, 0.001]' || steps='[0.0025, 0.005, 0.01]'
  sed -e "s/^    seed: 7$/    seed: $SEED/" -e "s/^model: .*/model: optimizer-$variant-$STAMP/" \
    -e "s/^  momentum: 0.9$/  momentum: 0.9\n  optimizer: $optimizer\n  schedule: $schedule\n  weight_decay: $([ "$optimizer" = adamw ] && echo 0.01 || echo 0)/" \
    -e "s/^    step_size: .*/    step_size: $steps/" -e "/^    architecture: \[/d" \
    sweeps/quickstart.yaml >"$RUN/$variant.yaml"
  grep -q "schedule: $schedule" "$RUN/$variant.yaml" || { echo "optimizer.sh: no training section" >&2; exit 1; }
  id=$(run_sweep "$RUN/$variant.yaml")
  ctl registry publish "$id" >/dev/null
  best=$(sweep_summary "$id" | sed -n 2p)
  champion=$(champion_summary "optimizer-$variant-$STAMP")
  printf '%-18s %10s %10s %10s %10s\n' "$variant" $best $champion
done
