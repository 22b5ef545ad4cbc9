#!/usr/bin/env bash
# Everything a GPU session measures, as one call within a deadline: one build of the whole farm
# from the carried archive (bench/gpu_e2e.sh STAGE=build, which also builds sweepfarm-bench and
# trainer_test), the engine's CUDA tests and the fused step kernel's correctness check, the farm end
# to end (`sweepctl nightly sweeps/perfpsychic.yaml` through PostgreSQL, the coordinator and one
# GPU worker; the step kernel if its check passed), then our throughput beside the Python peer's.
# Each stage gets what is left of DEADLINE seconds (default 520), so a slow one cannot take the
# results of the others with it. Writes to $OUT: session.log and one tar.gz per stage.
#   OUT=DIR bench/gpu_session.sh     (carry .hostdeps, made by bench/make_hostdeps.sh, and .peer)
#   DEVICE=cpu QUICK=1 SWEEP=sweeps/quickstart.yaml bench/gpu_session.sh   (a rehearsal on CPUs)
set -uo pipefail
cd "$(dirname "$0")/.."
R=${OUT:-$PWD/bench/out}
mkdir -p "$R"
exec > >(tee "$R/session.log") 2>&1
export DEVICE=${DEVICE:-cuda} BUILD_DIR=${BUILD_DIR:-build-e2e}
T0=$(date +%s)
DEADLINE=${DEADLINE:-520}
left() { echo $((DEADLINE - ($(date +%s) - T0))); }
stage() { echo; echo "#### [$(($(date +%s) - T0)) s] $*"; }
pack() { tar -C "$1" -czf "$R/$2.tgz" . 2>/dev/null; }
status=0

stage "build"
OUT=/tmp/sf-build STAGE=build timeout "$(left)" bash bench/gpu_e2e.sh || { pack /tmp/sf-build build; exit 1; }
pack /tmp/sf-build build

stage "engine tests on $DEVICE, the fused kernels' check"
tests_filter='Devices/*/1'  # the CUDA instances of the trainer tests
[ "$DEVICE" = cuda ] || tests_filter='*Fused*'
OUT=/tmp/sf-run PHASES="tests step" TESTS_LIMIT=90 TESTS_FILTER="$tests_filter" \
  LIMIT=$(($(left) > 150 ? 150 : $(left))) bash bench/gpu_run.sh || status=1
pack /tmp/sf-run run

kernels=step
[ -f /tmp/sf-run/step_failed ] && kernels=auto
stage "end to end, kernels $kernels ($(left) s left)"
OUT=/tmp/sf-e2e STAGE=run KERNELS=$kernels timeout $(($(left) > 200 ? 200 : $(left))) \
  bash bench/gpu_e2e.sh || status=1
pack /tmp/sf-e2e e2e

# Most wanted first: TF32 beside the peer's best telemetry variants, then bf16, LeNet and the
# peer's LeNet, then the 1,000-trial study through the engine alone.
for phases in "tf32 peervar" "bf16 lenet peer" "study"; do
  stage "$phases ($(left) s left)"
  [ "$(left)" -gt 20 ] || break
  OUT=/tmp/sf-run PHASES="$phases" LIMIT=100 timeout "$(left)" bash bench/gpu_run.sh || status=1
  pack /tmp/sf-run run
done
stage "done, status $status"
exit $status
