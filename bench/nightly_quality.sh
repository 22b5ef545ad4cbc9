#!/usr/bin/env bash
# The quality goals of the shipped nightly loop (issue 20), on several data seeds (7, 8, 9 unless
# --seeds): night 1 runs `sweepctl nightly sweeps/quickstart.yaml` (no champion yet), night 2
# `sweepctl nightly sweeps/nightly.yaml` (seeded from night 1's champion, gated against it), each
# seed under its own model name. Prints per seed the champion after night 2 (holdout accuracy,
# members and their kinds, which night produced it), the best single trial of the sweep that
# produced it (by selection accuracy, its holdout beside), and whether the goals hold: the
# champion is an ensemble of at least 2 members, scores at least 0.95, and beats that best single
# trial; the last line is JSON. Private PostgreSQL unless --db DSN.
#   bench/nightly_quality.sh [--db DSN] [--workers N] [--capacity N] [--seeds "7 8 9"]
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=nightly_quality
. bench/sweep_farm.sh
STAMP=$(date +%s)
rows=()
for seed in $DATA_SEEDS; do
  model="nq-$seed-$STAMP"
  for night in quickstart nightly; do
    sed -e "s/^    seed: 7$/    seed: $seed/" -e "s/storage-fault-detector/$model/g" \
      "sweeps/$night.yaml" >"$RUN/$seed-$night.yaml"
    ctl nightly "$RUN/$seed-$night.yaml" >"$RUN/$seed-$night.txt" ||
      { echo "nightly_quality.sh: $night failed for seed $seed:" >&2; cat "$RUN/$seed-$night.txt" >&2; exit 1; }
  done
  rows+=("$(ctl registry show "$model" --json | python3 -c '
import json, sys
v = json.load(sys.stdin)
kinds = {}
for m in v["members"]:
    k = m["params"].get("architecture", "cnn1d")
    kinds[k] = kinds.get(k, 0) + 1
print(json.dumps({"seed": int(sys.argv[1]), "version": v["version"], "sweep_id": v["sweep_id"],
                  "holdout_accuracy": v["holdout_accuracy"], "members": len(v["members"]),
                  "kinds": kinds, "best_single_holdout_accuracy": v["best_single_holdout_accuracy"]}))' "$seed")")
done
printf '%s\n' "${rows[@]}" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
print("%-5s %-8s %9s %8s %12s   %s" % ("seed", "champion", "holdout", "members", "best single", "kinds"))
for r in rows:
    print("%-5d v%-7d %9.4f %8d %12.4f   %s" % (r["seed"], r["version"], r["holdout_accuracy"], r["members"],
          r["best_single_holdout_accuracy"], ", ".join("%s x%d" % kv for kv in sorted(r["kinds"].items()))))
n = len(rows)
mean = lambda key: sum(r[key] for r in rows) / n
goals = {"ensemble_of_2_or_more": all(r["members"] >= 2 for r in rows),
         "at_least_0.95": all(r["holdout_accuracy"] >= 0.95 for r in rows),
         "beats_best_single_on_average": mean("holdout_accuracy") > mean("best_single_holdout_accuracy")}
print(json.dumps({"champion_holdout_mean": round(mean("holdout_accuracy"), 4),
                  "best_single_holdout_mean": round(mean("best_single_holdout_accuracy"), 4),
                  "goals": goals, "seeds": [r["seed"] for r in rows]}))'
