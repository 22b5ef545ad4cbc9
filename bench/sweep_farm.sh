# Sourced by the benchmarks that compare sweeps on one farm (halving.sh, search.sh,
# architecture.sh): parses their common flags, starts a private PostgreSQL (unless --db DSN), a
# coordinator and CPU workers, and defines ctl (sweepctl), sql (psql on the farm's database),
# run_sweep (submit, wait, print the id), sweep_summary and champion_summary. The caller sets BENCH (its name, for messages) first;
# WORKER_ARGS in the environment go to every worker. --seed is the search's seed; --seeds the data
# seeds of the benchmarks that repeat over them (DATA_SEEDS, default "7 8 9").
#   [--db DSN] [--workers N] [--capacity N] [--seed S] [--seeds "7 8 9"] [--json PATH]
DB=""; WORKERS=2; CAPACITY=8; JSON=""; SEED=1; DATA_SEEDS="7 8 9"
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) DATA_SEEDS=$2; shift 2 ;;
    --db) DB=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --capacity) CAPACITY=$2; shift 2 ;;
    --json) JSON=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    *) echo "$BENCH.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
B=${BUILD_DIR:-build}
[ -x "$B/coordinator/sweepfarm-coordinator" ] || deploy/local/build.sh >/dev/null
. deploy/local/env.sh
. deploy/local/farm.sh
farm_begin "$BENCH"
farm_database
farm_coordinator
for i in $(seq "$WORKERS"); do
  farm_spawn "worker$i.log" "$B/worker/sweepfarm-worker" --coordinator "$ADDR" --device cpu \
    --capacity "$CAPACITY" --threads 1 ${WORKER_ARGS:-}
done
ctl() { "$B/cli/sweepctl" --coordinator "$ADDR" "$@"; }
sql() { psql "$DSN" -Atc "$1"; }
run_sweep() {
  local id
  id=$(ctl submit "$1")
  ctl watch "$id" >/dev/null
  echo "$id"
}
# A finished sweep in three lines: "trials model-epochs wall-seconds trials-per-lease" (a lease:
# one worker's trials started together), "best-selection its-holdout" (the best trial by
# selection accuracy, ties: the older) and the mean selection accuracy of the best five.
sweep_summary() {
  local id=$1
  sql "SELECT count(*), sum((t.params->>'epochs')::int),
         round(extract(epoch FROM s.finished_at - s.created_at)::numeric, 1),
         round(count(*)::numeric / count(DISTINCT (t.worker_id, t.started_at)), 1)
       FROM trials t JOIN sweeps s ON s.id = t.sweep_id WHERE t.sweep_id = $id
       GROUP BY s.finished_at, s.created_at" | tr '|' ' '
  sql "SELECT round(r.selection_accuracy::numeric, 4), round(r.holdout_accuracy::numeric, 4)
       FROM results r JOIN trials t ON t.id = r.trial_id WHERE t.sweep_id = $id
       ORDER BY r.selection_accuracy DESC, t.id LIMIT 1" | tr '|' ' '
  sql "SELECT round(avg(a)::numeric, 4) FROM (SELECT r.selection_accuracy AS a FROM results r
       JOIN trials t ON t.id = r.trial_id WHERE t.sweep_id = $id
       ORDER BY r.selection_accuracy DESC LIMIT 5) b"
}
# A registered model's current champion in one line: "holdout-accuracy members".
champion_summary() {
  ctl registry show "$1" --json | python3 -c '
import json, sys
v = json.load(sys.stdin)
print("%.4f %d" % (v["holdout_accuracy"], len(v["members"])))'
}
