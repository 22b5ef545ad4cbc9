#!/usr/bin/env bash
# The coordinator under hostile-sized requests (issue 21): N concurrent dry runs of a 1M-trial sweep
# (a 0.3 KB file: 100,000 seeds x 10 epoch counts), as `sweepctl submit --dry-run --json` sends
# them; prints each call's outcome and answer size, and the coordinator's peak resident memory
# (VmHWM) before and after. Before the bounded plan, four such calls took it to 2 GB and each
# answered with a million rows. Private PostgreSQL unless --db DSN.
#   bench/hostile.sh [--db DSN] [--calls N] [--json PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
DB=""; CALLS=4; JSON=""
while [ $# -gt 0 ]; do
  case "$1" in
    --db) DB=$2; shift 2 ;;
    --calls) CALLS=$2; shift 2 ;;
    --json) JSON=$2; shift 2 ;;
    *) echo "hostile.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
B=${BUILD_DIR:-build}
[ -x "$B/coordinator/sweepfarm-coordinator" ] || deploy/local/build.sh >/dev/null
. deploy/local/env.sh
. deploy/local/farm.sh
farm_begin hostile
farm_database
farm_coordinator
COORD=${FARM_PIDS[-1]}
hwm() { awk '/VmHWM/ {print $2}' "/proc/$COORD/status"; }
cat >"$RUN/million.yaml" <<'Y'
version: 1
name: million
model: m
dataset: {name: telemetry, params: {lab_samples: 64, escalation_samples: 16}}
architecture: {name: cnn1d, channels: [4, 8]}
search:
  method: grid
  space:
    epochs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    step_size: 0.01
    issue_rate: 0.5
    data_size: 0.01
    seed: {min: 1, max: 100000, steps: 100000}
Y
before=$(hwm)
start=$(date +%s%N)
calls=()
for i in $(seq "$CALLS"); do
  ( set +e
    "$B/cli/sweepctl" --coordinator "$ADDR" --deadline-ms 300000 submit "$RUN/million.yaml" \
      --dry-run --json >"$RUN/out.$i" 2>"$RUN/err.$i"
    echo $? >"$RUN/rc.$i" ) &
  calls+=($!)
done
wait "${calls[@]}"
wall=$(( ($(date +%s%N) - start) / 1000000 ))
after=$(hwm)
python3 - "$RUN" "$CALLS" "$before" "$after" "$wall" "$JSON" <<'P'
import json, sys
run, calls, before, after, wall, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]) / 1000, sys.argv[6]
rows = []
for i in range(1, calls + 1):
    rc = int(open(f"{run}/rc.{i}").read())
    out = open(f"{run}/out.{i}").read()
    err = open(f"{run}/err.{i}").read().strip()
    row = {"rc": rc, "answer_bytes": len(out)}
    if rc == 0:
        plan = json.loads(out)
        row.update(trials=plan["trials"], listed=plan["listed"])
    else:
        row["error"] = err
    rows.append(row)
    print("call %d: %s" % (i, "ok: %d trials, %d listed, %d bytes" % (row["trials"], row["listed"], len(out))
                            if rc == 0 else "refused (exit %d): %s" % (rc, err)))
print("coordinator peak RSS: %.0f MB before, %.0f MB after %d concurrent 1M-trial dry runs (%.1f s)"
      % (before / 1024, after / 1024, calls, wall))
if path:
    json.dump({"calls": rows, "peak_rss_mb_before": before / 1024, "peak_rss_mb_after": after / 1024,
               "wall_s": wall}, open(path, "w"), indent=1)
P
