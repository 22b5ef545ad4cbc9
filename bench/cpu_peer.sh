#!/usr/bin/env bash
# The farm beside what a Python user would write, on the same CPUs and the same data (issue 26):
# the sweep (default sweeps/quickstart.yaml) on a farm of two CPU workers (bench/sweep_farm.sh),
# then the peer (bench/cpu_peer/peer_sweep.py: Optuna 3.1 + PyTorch 1.13 from Debian) on the data
# set the farm stored, exported with `sweepctl data export`: as Optuna in two processes, as a
# plain pool of two, and as a pool of two that trains each configuration once for its largest
# epoch count and scores it at each (what the farm does), alternating with the farm ROUNDS times.
# Prints each run, the medians and ratios, whether every trial's selection accuracy is the same
# in the farm and the peers, and, last, one line of JSON:
#   {"farm_s": f, "optuna_s": o, "pool_s": p0, "pool_shared_epochs_s": p, "same_accuracies": b, ...}
# Times are wall seconds of the whole command: the farm's from submit to the last result (its
# processes already running, as a farm's are), the peer's from starting Python to its last trial.
#   bench/cpu_peer.sh [--sweep FILE] [--rounds N] [--db DSN] [--workers N] [--capacity N]
set -euo pipefail
cd "$(dirname "$0")/.."
SWEEP=sweeps/quickstart.yaml
ROUNDS=3
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sweep) SWEEP=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
set -- "${args[@]+"${args[@]}"}"
[ -r "$SWEEP" ] || { echo "cpu_peer.sh: --sweep $SWEEP: no such file" >&2; exit 2; }
# Debian's interpreter and packages (a pyenv or venv python3 may lack them).
PY=/usr/bin/python3
"$PY" -c 'import torch, optuna, yaml, numpy' 2>/dev/null ||
  deploy/local/setup.sh python3-torch python3-optuna python3-yaml python3-numpy >&2
BENCH=cpu_peer
. bench/sweep_farm.sh
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
now() { date +%s.%N; }
say() { echo "$*" >&2; }
say "cpu_peer: $(git rev-parse --short HEAD 2>/dev/null || echo "?"), $(getconf _NPROCESSORS_ONLN) CPUs," \
  "$WORKERS workers, sweep $SWEEP, $ROUNDS rounds; results in $RUN"

farm_round() {  # R
  local t0 t1 id
  t0=$(now)
  id=$(ctl submit "$SWEEP")
  ctl watch "$id" >"$RUN/farm-$1.watch"
  t1=$(now)
  ctl leaderboard "$id" --top 0 --json >"$RUN/farm-$1.json"
  echo "$t0 $t1" | awk '{printf "%.2f", $2 - $1}' >"$RUN/farm-$1.seconds"
  say "farm-$1: sweep $id, $(cat "$RUN/farm-$1.seconds") s"
  if [ "$1" = 1 ]; then  # the data set it trained on, as the farm exports it, for the peers
    local version
    version=$(ctl data list --json | "$PY" -c '
import json, sys
board = json.load(open(sys.argv[1]))
board = board["trials"] if isinstance(board, dict) else board
want = board[0]["dataset_hash"]
print(next(d["name"] + "@" + str(d["version"]) for d in json.load(sys.stdin) if d["sha256"] == want))
' "$RUN/farm-1.json")
    ctl data export "$version" "$RUN/data.csv" >/dev/null
    "$PY" bench/cpu_peer/peer_sweep.py --prepare "$RUN/data.csv" "$RUN/data" >&2
  fi
}
peer_round() {  # NAME R ARGS...
  local name=$1-$2 t0 t1
  shift 2
  t0=$(now)
  "$PY" bench/cpu_peer/peer_sweep.py --sweep "$SWEEP" --data "$RUN/data" --workdir "$RUN/$name" \
    --workers "$WORKERS" --out "$RUN/$name.json" "$@" >"$RUN/$name.log"
  t1=$(now)
  echo "$t0 $t1" | awk '{printf "%.2f", $2 - $1}' >"$RUN/$name.seconds"
  say "$name: $(cat "$RUN/$name.seconds") s ($(cat "$RUN/$name.log"))"
}
for r in $(seq "$ROUNDS"); do
  farm_round "$r"
  peer_round optuna "$r" --mode optuna
  peer_round pool "$r" --mode pool
  peer_round poolshare "$r" --mode pool --share-epochs
done
"$PY" bench/cpu_peer/summarize.py "$RUN" "$ROUNDS"
