#!/usr/bin/env bash
# Installs every build, test and run dependency of sweepfarm on Debian 12 (idempotent; needs root or sudo).
# Extra packages may be named (the benchmarks' own: bench/cpu_peer.sh adds PyTorch and Optuna).
#   deploy/local/setup.sh [PACKAGE...]
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build pkg-config git clang-format
  clang libclang-rt-14-dev
  libtorch-dev libopenblas0-pthread
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libpqxx-dev libyaml-cpp-dev libssl-dev libcsv-dev libzip-dev libmicrohttpd-dev
  libgtest-dev libgmock-dev googletest
  postgresql postgresql-client
  dataset-fashion-mnist
  iproute2 procps openssl
  slurmctld slurmd slurm-client munge chromium
  "$@"
)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages already installed"
  exit 0
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Debian's postgresql package may start a system cluster; sweepfarm starts its own private one.
echo "setup: done"
