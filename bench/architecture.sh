#!/usr/bin/env bash
# Architecture search against the fixed architecture on the same budget: sweeps/architecture.yaml
# (48 random trials over channels, kernel size and the training parameters), then the same file
# without the architecture parameters (every trial the file's `architecture`, 16/32 channels,
# kernel 5 unless FIXED_KERNEL; the other parameters are drawn from the same stream, so they
# differ). Prints, per
# sweep, trials, model-epochs, wall time, the mean trials per lease (fusion), the best trial's
# selection and holdout accuracy and the mean selection accuracy of the best five; then, for the
# architecture search, each architecture's trials and best selection accuracy. Private PostgreSQL
# unless --db DSN.
#   [FIXED_KERNEL=K] bench/architecture.sh [--db DSN] [--workers N] [--capacity N] [--seed S]
#                                          [--json PATH]
# --seed replaces the file's search.seed; FIXED_KERNEL gives the fixed sweep another kernel size.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=architecture
. bench/sweep_farm.sh
sed -e "s/^  seed: 1\$/  seed: $SEED/" sweeps/architecture.yaml >"$RUN/arch.yaml"
sed -e '/^    channels:/d' -e '/^    kernel_size:/d' -e 's/^name: architecture/name: fixed/' \
  -e "s/^  kernel_size: 5\$/  kernel_size: ${FIXED_KERNEL:-5}/" "$RUN/arch.yaml" >"$RUN/fixed.yaml"
A=$(run_sweep "$RUN/arch.yaml")
F=$(run_sweep "$RUN/fixed.yaml")
{ read -r AT AE AW AL; read -r AS AH; read -r A5; } <<<"$(sweep_summary "$A")"
{ read -r FT FE FW FL; read -r FS FH; read -r F5; } <<<"$(sweep_summary "$F")"
printf '%-13s %6s %12s %7s %11s %9s %8s %9s\n' sweep trials model-epochs wall trials/lease \
  best-sel holdout top5-sel
printf '%-13s %6s %12s %6ss %11s %9s %8s %9s\n' architecture "$AT" "$AE" "$AW" "$AL" "$AS" "$AH" "$A5"
printf '%-13s %6s %12s %6ss %11s %9s %8s %9s\n' fixed "$FT" "$FE" "$FW" "$FL" "$FS" "$FH" "$F5"
echo
echo "architecture search, per architecture (channels/kernel: trials, best selection accuracy):"
PER=$(sql "SELECT (t.params->'channels')::text || '/' || (t.params->>'kernel_size'), count(*),
             round(max(r.selection_accuracy)::numeric, 4)
           FROM trials t JOIN results r ON r.trial_id = t.id WHERE t.sweep_id = $A
           GROUP BY 1 ORDER BY 3 DESC")
echo "$PER" | tr '|' ' ' | sed 's/^/  /'
if [ -n "$JSON" ]; then
  PER_JSON=$(echo "$PER" | awk -F'|' '{printf "%s{\"architecture\": \"%s\", \"trials\": %s, \"best_selection_accuracy\": %s}", (NR>1?", ":""), $1, $2, $3}')
  cat >"$JSON" <<JSONEOF
{"architecture": {"sweep_id": $A, "trials": $AT, "model_epochs": $AE, "wall_seconds": $AW,
  "trials_per_lease": $AL, "best_selection_accuracy": $AS, "best_holdout_accuracy": $AH,
  "top5_selection_accuracy": $A5, "per_architecture": [$PER_JSON]},
 "fixed": {"sweep_id": $F, "trials": $FT, "model_epochs": $FE, "wall_seconds": $FW,
  "trials_per_lease": $FL, "best_selection_accuracy": $FS, "best_holdout_accuracy": $FH,
  "top5_selection_accuracy": $F5},
 "fixed_kernel": ${FIXED_KERNEL:-5}, "search_seed": $SEED, "workers": $WORKERS,
 "capacity": $CAPACITY}
JSONEOF
fi
