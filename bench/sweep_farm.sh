# Sourced by the benchmarks that compare sweeps on one farm (halving.sh, search.sh,
# architecture.sh): parses their common flags, starts a private PostgreSQL (unless --db DSN), a
# coordinator and CPU workers, and defines ctl (sweepctl), sql (psql on the farm's database) and
# run_sweep (submit, wait, print the id). The caller sets BENCH (its name, for messages) first.
#   [--db DSN] [--workers N] [--capacity N] [--seed S] [--json PATH]
DB=""; WORKERS=2; CAPACITY=8; JSON=""; SEED=1
while [ $# -gt 0 ]; do
  case "$1" in
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
    --capacity "$CAPACITY" --threads 1
done
ctl() { "$B/cli/sweepctl" --coordinator "$ADDR" "$@"; }
sql() { psql "$DSN" -Atc "$1"; }
run_sweep() {
  local id
  id=$(ctl submit "$1")
  ctl watch "$id" >/dev/null
  echo "$id"
}
