#!/usr/bin/env bash
# A sweep end to end on one GPU host: a private PostgreSQL, the coordinator, one GPU worker and
# `sweepctl nightly` (submit, wait, ensemble, publish), timed. GPU hosts have LibTorch (CUDA) but
# neither gRPC, Protobuf, libpqxx, yaml-cpp nor PostgreSQL: those come from the archive that
# bench/make_hostdeps.sh packs on Debian 12 (HOSTDEPS/sysroot.tar.xz, carried with the checkout).
# Libraries the host already has are taken from the host; the others are put on LD_LIBRARY_PATH.
#   bench/gpu_e2e.sh                                   sweeps/perfpsychic.yaml on CUDA
#   KERNELS=step bench/gpu_e2e.sh                      the worker uses the fused step kernel
#   DEVICE=cpu SWEEP=sweeps/quickstart.yaml bench/gpu_e2e.sh   a rehearsal on a CPU host
# Results (build and run logs, the timing) go to $OUT (default bench/out); with PACK=FILE also
# packed into one tar.gz (a device call returns only a few files). STAGE=build stops after the
# build (which also builds sweepfarm-bench and trainer_test, so bench/gpu_run.sh can use it with
# BUILD_DIR), STAGE=run skips it.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/bench/out}
DEVICE=${DEVICE:-cuda}
SWEEP=${SWEEP:-sweeps/perfpsychic.yaml}
KERNELS=${KERNELS:-auto}
HOSTDEPS=${HOSTDEPS:-.hostdeps}
SYS=${SYS:-/tmp/sweepfarm-sysroot}
B=${BUILD_DIR:-build-e2e}
STAGE=${STAGE:-all}
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS=1 MALLOC_MMAP_THRESHOLD_=4294967296
TORCH_PREFIX=${TORCH_PREFIX:-$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)' 2>/dev/null)}
prefix="$TORCH_PREFIX"
cmake_extra=()
if [ -f "$HOSTDEPS/sysroot.tar.xz" ]; then
  echo "== unpacking $HOSTDEPS/sysroot.tar.xz into $SYS"
  rm -rf "$SYS" && mkdir -p "$SYS/runtime" && tar -C "$SYS" -xJf "$HOSTDEPS/sysroot.tar.xz" || exit 1
  chmod 755 "$SYS"
  L=$SYS/usr/lib/x86_64-linux-gnu
  missing=0
  for f in "$L"/lib*.so.*; do
    so=$(basename "$f")
    # Only files named by their SONAME (libfoo.so.N), not the fuller versions behind them (without
    # readelf, all: an extra name on the path is harmless).
    if command -v readelf >/dev/null; then
      [ "$(readelf -d "$f" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" = "$so" ] || continue
    fi
    ldconfig -p | grep -q "^[[:space:]]*$so (" && continue
    ln -sf "$f" "$SYS/runtime/$so"
    missing=$((missing + 1))
  done
  echo "   $missing carried libraries the host lacks go on LD_LIBRARY_PATH"
  export LD_LIBRARY_PATH=$SYS/runtime${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export PKG_CONFIG_LIBDIR=$L/pkgconfig:$SYS/usr/share/pkgconfig PKG_CONFIG_SYSROOT_DIR=$SYS
  prefix="${prefix:+$prefix;}$SYS/usr"
  cmake_extra+=(-DProtobuf_PROTOC_EXECUTABLE="$SYS/usr/bin/protoc"
    -DPKG_CONFIG_EXECUTABLE="$SYS/usr/bin/pkgconf"
    -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$L" -DCMAKE_SHARED_LINKER_FLAGS="-Wl,-rpath-link,$L")
  export PGBIN=$SYS/usr/lib/postgresql/15/bin
fi
# The server refuses to run as root: a postgres user, and runuser (util-linux) or a stand-in.
if [ "$(id -u)" -eq 0 ] && ! id -u postgres >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin postgres 2>/dev/null || {
    echo "postgres:x:998:998::/nonexistent:/usr/sbin/nologin" >>/etc/passwd
    echo "postgres:x:998:" >>/etc/group
  }
fi
if ! command -v runuser >/dev/null; then
  mkdir -p "$SYS/shim"
  cat >"$SYS/shim/runuser" <<'SHIM'
#!/usr/bin/env python3
# runuser -u USER -- CMD...: the stand-in deploy/local/pg.sh uses where util-linux is missing.
import os, pwd, sys
args = sys.argv[1:]
user = args[args.index("-u") + 1]
cmd = args[args.index("--") + 1:]
pw = pwd.getpwnam(user)
os.setgroups([])
os.setgid(pw.pw_gid)
os.setuid(pw.pw_uid)
os.execvp(cmd[0], cmd)
SHIM
  chmod +x "$SYS/shim/runuser"
  export PATH=$SYS/shim:$PATH
fi
# PostgreSQL reads time zones from /usr/share/zoneinfo; without it only GMT is known.
[ -e /usr/share/zoneinfo/UTC ] || export TZ=GMT PGTZ=GMT
GEN=""
command -v ninja >/dev/null && GEN="-G Ninja"
if [ "$STAGE" != run ]; then
  echo "== build (LibTorch at ${TORCH_PREFIX:-system})"
  cmake -S . -B "$B" $GEN -DCMAKE_BUILD_TYPE=Release -DSWEEPFARM_BUILD_TESTS=ON \
    ${prefix:+-DCMAKE_PREFIX_PATH="$prefix"} "${cmake_extra[@]}" >"$OUT/e2e_cmake.log" 2>&1 ||
    { tail -40 "$OUT/e2e_cmake.log"; exit 1; }
  grep -E "sweepfarm:|CUDA" "$OUT/e2e_cmake.log" | head -5
  cmake --build "$B" -j "$(nproc)" --target sweepfarm-coordinator sweepfarm-worker sweepctl \
    sweepfarm-bench trainer_test >"$OUT/e2e_build.log" 2>&1 ||
    { grep -B2 -A12 -m3 'error' "$OUT/e2e_build.log"; exit 1; }
fi
[ "$STAGE" = build ] && exit 0
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null ||
  echo "cpu $(nproc) cores"; } | tee "$OUT/card.txt"
{ git rev-parse --short HEAD 2>/dev/null || echo "${COMMIT:-unknown (pass COMMIT=)}"; } | tee "$OUT/commit.txt"

DB=""
. deploy/local/farm.sh
farm_begin e2e
FARM_EXIT_MESSAGE="== stopped; logs in $RUN"
echo "== PostgreSQL (${PGBIN:-system}), coordinator, one $DEVICE worker (kernels: $KERNELS)"
farm_database
farm_coordinator
farm_spawn worker.log "$B/worker/sweepfarm-worker" --coordinator "$ADDR" --device "$DEVICE" \
  --capacity 1000 --kernels "$KERNELS"
echo "== sweepctl nightly $SWEEP"
start=$(date +%s.%N)
"$B/cli/sweepctl" --coordinator "$ADDR" nightly "$SWEEP" | tee "$OUT/e2e_nightly.txt"
rc=${PIPESTATUS[0]}
end=$(date +%s.%N)
wall=$(echo "$end - $start" | bc 2>/dev/null || python3 -c "print($end - $start)")
ID=$(sed -n 's/^nightly .*: sweep \([0-9]*\),.*/\1/p' "$OUT/e2e_nightly.txt")
[ -n "$ID" ] && "$B/cli/sweepctl" --coordinator "$ADDR" leaderboard "$ID" --top 5 | tee -a "$OUT/e2e_nightly.txt"
grep -E "training|step kernel|default kernels" "$RUN/worker.log" | tail -5 | tee "$OUT/e2e_worker.txt"
printf 'e2e %s on %s (kernels %s): sweepctl nightly (submit, train, ensemble, publish) %.1f s, rc %s\n' \
  "$SWEEP" "$(cat "$OUT/card.txt")" "$KERNELS" "$wall" "$rc" | tee "$OUT/e2e.txt"
[ -n "${PACK:-}" ] && tar -C "$OUT" -czf "$PACK" .
exit "$rc"
