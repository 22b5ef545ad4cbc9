# Sourced (not run) by deploy/local/demo.sh and the bench scripts: a run directory, the database
# (a private PostgreSQL unless DB is set), a coordinator on a free loopback port, background
# processes, and one cleanup at exit that stops them all. Expects B (build dir) and DB to be set.
#   farm_begin NAME           RUN=run/NAME.XXXXXX; stop everything at exit
#   farm_database             DSN (starts the private cluster unless DB is set)
#   farm_coordinator [FLAG]   starts the coordinator with extra flags; ADDR once it serves
#   farm_spawn LOG CMD...     runs CMD in the background, stderr to $RUN/LOG, stopped at exit
#   farm_address FILE LOG     the HOST:PORT a process wrote to $RUN/FILE (waits; exits if none)
# FARM_EXIT_MESSAGE, if set, is printed after the cleanup.
FARM_PIDS=()
farm_cleanup() {
  for p in "${FARM_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${FARM_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -z "$DB" ] && [ -n "${RUN:-}" ]; then deploy/local/pg.sh stop "$RUN"; fi
  if [ -n "${FARM_EXIT_MESSAGE:-}" ]; then echo "$FARM_EXIT_MESSAGE"; fi
}
farm_begin() {
  mkdir -p run
  RUN=$(mktemp -d "$PWD/run/$1.XXXXXX")
  trap farm_cleanup EXIT
}
farm_database() {
  DSN=${DB:-$(deploy/local/pg.sh start "$RUN")}
}
farm_spawn() {
  local log=$1
  shift
  "$@" 2>"$RUN/$log" &
  FARM_PIDS+=($!)
}
# Waits up to 10 s for an --address-file and prints the HOST:PORT in it; exits with LOG shown if
# none comes.
farm_address() {
  for _ in $(seq 100); do [ -s "$RUN/$1" ] && break; sleep 0.1; done
  [ -s "$RUN/$1" ] || { cat "$RUN/$2" >&2; exit 1; }
  cat "$RUN/$1"
}
farm_coordinator() {
  farm_spawn coordinator.log "$B/coordinator/sweepfarm-coordinator" --db "$DSN" \
    --listen 127.0.0.1:0 --address-file "$RUN/address" "$@"
  ADDR=$(farm_address address coordinator.log)
}
