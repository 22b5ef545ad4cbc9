#!/usr/bin/env bash
# A private PostgreSQL cluster for the demo and the tests: initdb + pg_ctl, unix socket only (no TCP
# port), in a fresh directory. Run as root, the server runs as the postgres system user.
#   pg.sh start RUN_DIR   starts one; prints its connection string; RUN_DIR/pg.env records it
#   pg.sh stop RUN_DIR    stops it and removes its data
#   pg.sh crash-restart RUN_DIR   restarts it with `-m immediate` (a crash, for fault tests)
set -euo pipefail
cmd=${1:?usage: pg.sh start|stop|crash-restart RUN_DIR}
run=${2:?usage: pg.sh start|stop|crash-restart RUN_DIR}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$PGBIN/initdb" ] || { echo "pg.sh: no PostgreSQL server binaries (run deploy/local/setup.sh)" >&2; exit 1; }
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
# Throwaway clusters: no TCP port, and no fsync. A crash of the server process alone still loses no
# committed transaction (the kernel holds the written pages); synchronous_commit stays on, since
# with it off a crash forgets the last commits (seen: eight leases, whose results then came back
# stale).
server_opts() {
  echo "-c listen_addresses='' -k $1 -c fsync=off -c full_page_writes=off -c max_connections=200"
}
case "$cmd" in
  start)
    mkdir -p "$run"
    # The data directory lives under /tmp: the postgres user must own it and reach it, and a
    # socket path must stay short; RUN_DIR only records where it is.
    dir=$(mktemp -d /tmp/sweepfarm-pg.XXXXXX)
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
    as_pg "$PGBIN/initdb" -D "$dir/data" -U sweepfarm -A trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$(server_opts "$dir")" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    as_pg "$PGBIN/createdb" -h "$dir" -U sweepfarm sweepfarm
    dsn="host=$dir user=sweepfarm dbname=sweepfarm"
    printf 'PG_DIR=%s\nPG_DSN="%s"\n' "$dir" "$dsn" >"$run/pg.env"
    echo "$dsn"
    ;;
  stop)
    [ -f "$run/pg.env" ] || exit 0
    # shellcheck disable=SC1091
    . "$run/pg.env"
    as_pg "$PGBIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR" "$run/pg.env"
    ;;
  crash-restart)
    # shellcheck disable=SC1091
    . "$run/pg.env"
    as_pg "$PGBIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 -m immediate \
      -o "$(server_opts "$PG_DIR")" restart >/dev/null
    ;;
  *) echo "usage: pg.sh start|stop|crash-restart RUN_DIR" >&2; exit 2 ;;
esac
