#!/usr/bin/env bash
# Successive halving against brute force on the same configurations: sweeps/halving.yaml (54
# random configurations, rungs of 2, 6 and 18 epochs, eta 3; promoted trials resume from their
# parents' checkpoints), the same with `resume: false` (promoted trials train from scratch), then
# the same 54 configurations (same search seed, so the same draws) each trained for 18 epochs.
# Prints, per sweep, trainings, model-epochs trained, wall time, the best trial's selection and
# holdout accuracy, and whether brute force's best configuration reached halving's last rung.
# Private PostgreSQL unless --db DSN.
#   bench/halving.sh [--db DSN] [--workers N] [--capacity N] [--seed S] [--json PATH]
# --seed replaces the file's search.seed (other draws of configurations).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=halving
. bench/sweep_farm.sh
sed -e "s/^  seed: 1\$/  seed: $SEED/" sweeps/halving.yaml >"$RUN/halving.yaml"
sed -e 's/^  eta: 3 .*/  eta: 3\n  resume: false/' -e 's/^name: halving/name: halving-restart/' \
  "$RUN/halving.yaml" >"$RUN/restart.yaml"
# Brute force: the same file, every configuration at the last rung's epochs.
sed -e 's/^  method: halving/  method: random/' -e '/^  eta:/d' -e 's/^name: halving/name: brute-force/' \
  -e 's/^    epochs: {min: 2, max: 18}.*/    epochs: [18]/' "$RUN/halving.yaml" >"$RUN/brute.yaml"
H=$(run_sweep "$RUN/halving.yaml")
R=$(run_sweep "$RUN/restart.yaml")
F=$(run_sweep "$RUN/brute.yaml")
row() {
  local id=$1
  # Model-epochs trained: a resumed trial trains only the epochs after its parent's checkpoint.
  sql "SELECT count(*), sum((t.params->>'epochs')::int - coalesce(r.resumed_epochs, 0)),
         round(extract(epoch FROM s.finished_at - s.created_at)::numeric, 1)
       FROM trials t JOIN sweeps s ON s.id = t.sweep_id LEFT JOIN results r ON r.trial_id = t.id
       WHERE t.sweep_id = $id GROUP BY s.finished_at, s.created_at" | tr '|' ' '
  sql "SELECT round(r.selection_accuracy::numeric, 4), round(r.holdout_accuracy::numeric, 4),
         t.params - 'epochs'
       FROM results r JOIN trials t ON t.id = r.trial_id WHERE t.sweep_id = $id
       ORDER BY r.selection_accuracy DESC, t.id LIMIT 1" | tr '|' ' '
}
read -r HT HE HW <<<"$(row "$H" | sed -n 1p)"
read -r HS HH HP <<<"$(row "$H" | sed -n 2p)"
read -r RT RE RW <<<"$(row "$R" | sed -n 1p)"
read -r RS RH RP <<<"$(row "$R" | sed -n 2p)"
read -r FT FE FW <<<"$(row "$F" | sed -n 1p)"
read -r FS FH FP <<<"$(row "$F" | sed -n 2p)"
# Did brute force's best configuration reach halving's last rung?
REACHED=$(sql "SELECT count(*) FROM trials h, trials f JOIN results r ON r.trial_id = f.id
  WHERE h.sweep_id = $H AND h.rung = (SELECT max(rung) FROM trials WHERE sweep_id = $H)
    AND f.sweep_id = $F AND h.params - 'epochs' = f.params - 'epochs'
    AND f.id = (SELECT f2.id FROM trials f2 JOIN results r2 ON r2.trial_id = f2.id
                WHERE f2.sweep_id = $F ORDER BY r2.selection_accuracy DESC, f2.id LIMIT 1)")
RANK=$(sql "SELECT rank FROM (SELECT t.params - 'epochs' AS p,
    rank() OVER (ORDER BY r.selection_accuracy DESC, t.id) AS rank
  FROM trials t JOIN results r ON r.trial_id = t.id WHERE t.sweep_id = $F) b
  WHERE b.p = (SELECT t.params - 'epochs' FROM trials t JOIN results r ON r.trial_id = t.id
               WHERE t.sweep_id = $H ORDER BY r.selection_accuracy DESC, t.id LIMIT 1)")
printf '%-12s %9s %13s %8s %10s %8s\n' sweep trainings model-epochs wall best-sel holdout
printf '%-12s %9s %13s %7ss %10s %8s\n' halving "$HT" "$HE" "$HW" "$HS" "$HH"
printf '%-12s %9s %13s %7ss %10s %8s\n' restarted "$RT" "$RE" "$RW" "$RS" "$RH"
printf '%-12s %9s %13s %7ss %10s %8s\n' brute-force "$FT" "$FE" "$FW" "$FS" "$FH"
echo "brute force's best configuration reached halving's last rung: $([ "$REACHED" = 1 ] && echo yes || echo no)"
echo "halving's best configuration ranks $RANK of $FT under brute force"
if [ -n "$JSON" ]; then
  cat >"$JSON" <<JSONEOF
{"halving": {"sweep_id": $H, "trainings": $HT, "model_epochs": $HE, "wall_seconds": $HW,
  "best_selection_accuracy": $HS, "best_holdout_accuracy": $HH},
 "halving_restarted": {"sweep_id": $R, "trainings": $RT, "model_epochs": $RE,
  "wall_seconds": $RW, "best_selection_accuracy": $RS, "best_holdout_accuracy": $RH},
 "brute_force": {"sweep_id": $F, "trainings": $FT, "model_epochs": $FE, "wall_seconds": $FW,
  "best_selection_accuracy": $FS, "best_holdout_accuracy": $FH},
 "brute_force_best_reached_last_rung": $([ "$REACHED" = 1 ] && echo true || echo false),
 "halving_best_rank_under_brute_force": $RANK, "search_seed": $SEED, "workers": $WORKERS,
 "capacity": $CAPACITY}
JSONEOF
fi
