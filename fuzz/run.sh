#!/usr/bin/env bash
# Fuzzes the parsers with libFuzzer for a bounded time: builds the fuzz targets with clang
# (coverage instrumentation and AddressSanitizer) in build-fuzz/, then runs each for S seconds
# from its corpus in fuzz/corpus/TARGET (new inputs go to a scratch directory, not the
# repository). A crash, a leak, a hang past 10 s or 2 GB of memory stops it with the input saved
# as build-fuzz/crash-*: add that input to fuzz/corpus/TARGET (so every build's replay test runs
# it) and fix the cause.
#   fuzz/run.sh [--seconds S] [TARGET...]   (default 60 s each; sweep_yaml_fuzz data_fuzz)
# model_fuzz is built on request: it compiles the training engine with clang (minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=60
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_EACH=$2; shift 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(sweep_yaml_fuzz data_fuzz)
. deploy/local/env.sh
dir=${FUZZ_BUILD_DIR:-build-fuzz}
CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSWEEPFARM_FUZZ=ON -DSWEEPFARM_BUILD_TESTS=OFF >/dev/null
cmake --build "$dir" -j "$(nproc)" --target "${targets[@]}"
rc=0
rm -f "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*
for t in "${targets[@]}"; do
  scratch=$(mktemp -d /tmp/sweepfarm-fuzz.XXXXXX)
  echo "== $t: ${SECONDS_EACH} s"
  if ! (cd "$dir" && "./fuzz/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 "$scratch" "$OLDPWD/fuzz/corpus/$t" 2>&1 |
        grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)" ); then
    :
  fi
  if compgen -G "$dir/crash-*" >/dev/null || compgen -G "$dir/leak-*" >/dev/null ||
     compgen -G "$dir/timeout-*" >/dev/null || compgen -G "$dir/oom-*" >/dev/null; then
    echo "== $t: found an input that fails (above); it is in $dir"
    rc=1
  fi
  rm -rf "$scratch"
done
exit $rc
