#!/usr/bin/env bash
# One call on a GPU host: builds the engine and bench against the host's LibTorch (no gRPC, libpqxx or
# yaml-cpp needed), checks fused == separate training on the device, runs our bench and the Python
# peer (PEER_DIR, default .peer: copies of peer_bench.py and peer_fused_variants.py) side by side,
# and writes one results table. Results go to $OUT (default bench/out); with PACK=FILE also packed
# into one tar.gz (a device call returns only a few files).
# BUILD_DIR=DIR uses the build bench/gpu_e2e.sh STAGE=build made instead of building the engine
# alone; PHASES picks what runs (default: tests step tf32 recompute bf16 lenet study peervar peer;
# they run in that order whatever the order named).
# Usage: bench/gpu_run.sh            DEVICE=cpu QUICK=1 bench/gpu_run.sh (a rehearsal on a CPU host)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/bench/out}
PEER_DIR=${PEER_DIR:-.peer}
DEVICE=${DEVICE:-cuda}
QUICK=${QUICK:-0}
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS=1 MALLOC_MMAP_THRESHOLD_=4294967296
PREFIX=${TORCH_PREFIX:-$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)' 2>/dev/null)}
BD=${BUILD_DIR:-build-gpu}
PHASES=" ${PHASES:-tests step tf32 recompute bf16 lenet study peervar peer} "
phase() { [[ "$PHASES" == *" $1 "* ]]; }
if [ ! -x "$BD/bench/sweepfarm-bench" ]; then
  GEN=""
  command -v ninja >/dev/null && GEN="-G Ninja"
  echo "== build (LibTorch at ${PREFIX:-system})"
  cmake -S . -B "$BD" $GEN -DSWEEPFARM_ENGINE_ONLY=ON -DCMAKE_BUILD_TYPE=Release \
    ${PREFIX:+-DCMAKE_PREFIX_PATH="$PREFIX"} >"$OUT/cmake.log" 2>&1 || { tail -40 "$OUT/cmake.log"; exit 1; }
  cmake --build "$BD" -j "$(nproc)" >"$OUT/build.log" 2>&1 || { grep -A12 -m3 'error' "$OUT/build.log"; exit 1; }
fi
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "cpu $(nproc) cores"; } | tee "$OUT/card.txt"
{ git rev-parse --short HEAD 2>/dev/null || echo "${COMMIT:-unknown (pass COMMIT=)}"; } | tee "$OUT/commit.txt"
B=$BD/bench/sweepfarm-bench
status=0
if phase tests && [ -x "$BD/engine/trainer_test" ]; then
  echo "== engine tests"
  timeout "${TESTS_LIMIT:-240}" "$BD/engine/trainer_test" ${TESTS_FILTER:+--gtest_filter="$TESTS_FILTER"} >"$OUT/trainer_test.log" 2>&1 ||
    status=1
  grep -E "FAILED|PASSED|SKIPPED \]|tests? from .* ran" "$OUT/trainer_test.log" | tail -20
fi
if [ "$QUICK" = 1 ]; then KT="1,8"; KS="8"; KB="8"; KL="4"; KR="8"; EP=1; SE=4
else KT="${KT:-256,1024,4096}"; KS="1024,4096"; KB="1024,4096"; KL="64,256"; KR="1024"; EP=2; SE=100; fi
# Each phase under a time limit (LIMIT seconds, default 120): one that hangs leaves the others.
ours() { timeout "${LIMIT:-120}" "$B" --device "$DEVICE" "$@"; }
# The fused kernels (engine/kernels/) beside the batched-matmul path. On a CPU host they run
# as an emulation: checked, and timed only at one small K (those figures mean nothing).
if phase step; then
  echo "== ours: telemetry tf32, the step kernel (correctness checks of every path first)"
  if ! ours --check --workload telemetry --k "$KS" --precision tf32 --epochs $EP \
    --kernels step $( [ "$DEVICE" = cuda ] && echo --step-threads 256,512 ) --sequential-models 1 \
    --json "$OUT/ours_telemetry_tf32_step.json"; then
    status=1
    echo "step kernel check FAILED" >"$OUT/step_failed"
    # First run of the fused kernels on a device: if they fail, leave the diagnosis in the results.
    if [ "$DEVICE" = cuda ] && command -v compute-sanitizer >/dev/null; then
      echo "== the fused kernels failed: compute-sanitizer memcheck on small runs"
      for wl in telemetry lenet; do
        timeout 60 compute-sanitizer --tool memcheck --print-limit 10 $B --device cuda \
          --workload $wl --kernels step --k 2 --epochs 1 --train-samples 256 --precision tf32 \
          --sequential-models 1 --graph 0 2>&1 | tail -25
      done | tee "$OUT/sanitizer.log"
    fi
  fi
fi
if phase tf32; then
  echo "== ours: telemetry tf32"
  ours --workload telemetry --k "$KT" --precision tf32 --epochs $EP \
    --sequential-models 2 --json "$OUT/ours_telemetry_tf32.json" || status=1
fi
if phase recompute; then
  echo "== ours: telemetry tf32, patches recomputed in backward (memory comparison)"
  ours --workload telemetry --k "$KR" --precision tf32 --epochs $EP --recompute 1 \
    --sequential-models 1 --json "$OUT/ours_telemetry_tf32_recompute.json" || status=1
fi
if phase bf16; then
  echo "== ours: telemetry bf16"
  ours $( [ "$DEVICE" = cuda ] && echo --check ) --workload telemetry --k "$KB" --precision bf16 \
    --epochs $EP --kernels "auto$( [ "$DEVICE" = cuda ] && echo ,step )" --sequential-models 1 \
    --json "$OUT/ours_telemetry_bf16.json" || status=1
fi
if phase lenet; then
  echo "== ours: lenet tf32"
  ours --workload lenet --k "$KL" --precision tf32 --epochs 1 --sequential-models 1 \
    $( [ "$DEVICE" = cuda ] && echo --kernels auto,step ) \
    $( [ "$QUICK" = 1 ] && echo --train-samples 2048) --json "$OUT/ours_lenet_tf32.json" || status=1
fi
if phase study; then
  echo "== ours: the PerfPsychic study (1,000 trials) through the engine"
  ours --study perfpsychic --k 256 --study-epochs $SE --precision tf32 \
    $( [ "$DEVICE" = cuda ] && echo --kernels step ) | tee "$OUT/study.txt" || status=1
fi
if phase peervar && [ "$DEVICE" = cuda ] && [ -f "$PEER_DIR/peer_fused_variants.py" ]; then
  echo "== Python peer, best variants (telemetry)"
  PYTHONUNBUFFERED=1 timeout "${LIMIT:-120}" python3 "$PEER_DIR/peer_fused_variants.py" 2>&1 |
    tee "$OUT/peer_variants.log" || status=1
fi
if phase peer && [ "$DEVICE" = cuda ] && [ -f "$PEER_DIR/peer_bench.py" ]; then
  echo "== Python peer (LeNet, one at a time, vmap)"
  PYTHONUNBUFFERED=1 timeout "${LIMIT:-120}" python3 "$PEER_DIR/peer_bench.py" --json "$OUT/peer.json" 2>&1 |
    tee "$OUT/peer.log" || status=1
fi
python3 bench/results_table.py "$OUT" | tee "$OUT/table.md"
[ -n "${PACK:-}" ] && tar -C "$OUT" -czf "$PACK" .
exit $status
