#!/usr/bin/env bash
# Input standardisation's effect (training.standardize): sweeps/quickstart.yaml's CNN (48 trials,
# its search over model kinds left out; data seed 7 unless --seed) trained on the inputs as they are and standardised per
# channel with the train split's statistics, each published as the first version of its own
# model. Prints, for each, the best single trial's selection and holdout accuracy and the
# registered ensemble's holdout accuracy. Private PostgreSQL unless --db DSN.
#   bench/standardize.sh [--db DSN] [--workers N] [--capacity N] [--seed S]
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=standardize
. bench/sweep_farm.sh
[ "$SEED" = 1 ] && SEED=7  # sweep_farm.sh's default is a search seed; the data's is 7.
STAMP=$(date +%s)
printf '%-12s %10s %10s %10s %10s\n' inputs best.sel best.hold champion members
for on in false true; do
  sed -e "s/^    seed: 7$/    seed: $SEED/" -e "s/^model: .*/model: standardize-$on-$STAMP/" \
    -e "s/^  momentum: 0.9$/  momentum: 0.9\n  standardize: $on/" -e "/^    architecture: \[/d" \
    sweeps/quickstart.yaml >"$RUN/$on.yaml"
  grep -q "standardize: $on" "$RUN/$on.yaml" || { echo "standardize.sh: no training section" >&2; exit 1; }
  id=$(run_sweep "$RUN/$on.yaml")
  ctl registry publish "$id" >/dev/null
  read -r _ _ _ _ < <(sweep_summary "$id" | head -1)
  best=$(sweep_summary "$id" | sed -n 2p)
  champion=$(champion_summary "standardize-$on-$STAMP")
  printf '%-12s %10s %10s %10s %10s\n' "$([ $on = true ] && echo standardised || echo raw)" \
    $best $champion
done
