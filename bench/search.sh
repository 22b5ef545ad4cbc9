#!/usr/bin/env bash
# Model-based search against random search on the same budget and space: sweeps/tpe.yaml (64
# trials, rounds of 16, TPE from the second round on), then the same file as random search (64
# independent draws, same search seed, so its first 16 are TPE's first round). Prints, per sweep,
# trials, model-epochs, wall time, the best trial's selection and holdout accuracy and the mean
# selection accuracy of the best five. Private PostgreSQL unless --db DSN.
#   [MULTIVARIATE=1] bench/search.sh [--db DSN] [--workers N] [--capacity N] [--seed S]
#                                    [--json PATH]
# --seed replaces the file's search.seed; MULTIVARIATE=1 makes the TPE sweep multivariate.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=search
. bench/sweep_farm.sh
MV=false
[ "${MULTIVARIATE:-0}" = 1 ] && MV=true
sed -e "s/^  seed: 1\$/  seed: $SEED/" -e "s/^  method: tpe\$/  method: tpe\n  multivariate: $MV/" \
  sweeps/tpe.yaml >"$RUN/tpe.yaml"
sed -e 's/^  method: tpe/  method: random/' -e '/^  round_size:/d' -e '/^  multivariate:/d' \
  -e 's/^name: tpe/name: random/' \
  "$RUN/tpe.yaml" >"$RUN/random.yaml"
T=$(run_sweep "$RUN/tpe.yaml")
R=$(run_sweep "$RUN/random.yaml")
{ read -r TT TE TW _; read -r TS TH; read -r T5; } <<<"$(sweep_summary "$T")"
{ read -r RT RE RW _; read -r RS RH; read -r R5; } <<<"$(sweep_summary "$R")"
printf '%-8s %7s %13s %8s %10s %8s %12s\n' sweep trials model-epochs wall best-sel holdout top5-sel
printf '%-8s %7s %13s %7ss %10s %8s %12s\n' tpe "$TT" "$TE" "$TW" "$TS" "$TH" "$T5"
printf '%-8s %7s %13s %7ss %10s %8s %12s\n' random "$RT" "$RE" "$RW" "$RS" "$RH" "$R5"
if [ -n "$JSON" ]; then
  cat >"$JSON" <<JSONEOF
{"tpe": {"sweep_id": $T, "trials": $TT, "model_epochs": $TE, "wall_seconds": $TW,
  "best_selection_accuracy": $TS, "best_holdout_accuracy": $TH, "top5_selection_accuracy": $T5},
 "random": {"sweep_id": $R, "trials": $RT, "model_epochs": $RE, "wall_seconds": $RW,
  "best_selection_accuracy": $RS, "best_holdout_accuracy": $RH, "top5_selection_accuracy": $R5},
 "multivariate": $MV, "search_seed": $SEED, "workers": $WORKERS, "capacity": $CAPACITY}
JSONEOF
fi
