#!/usr/bin/env bash
# Packs what a bare GPU host lacks to build and run the whole farm (coordinator, worker, sweepctl,
# a private PostgreSQL) into one archive: gRPC, Protobuf, abseil, libpqxx, libpq, yaml-cpp headers
# and CMake/pkg-config files (Debian 12 packages), the PostgreSQL 15 server, and every shared library
# those need beyond glibc and libstdc++ (copied from this machine). Run on Debian 12 after
# deploy/local/setup.sh; bench/gpu_e2e.sh unpacks it on the GPU host (LibTorch comes from there).
#   bench/make_hostdeps.sh [OUT_DIR]      (default .hostdeps; writes OUT_DIR/sysroot.tar.xz)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.hostdeps}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/debs" "$work/root"
# Development files and tools with their libraries (CMake configs check that every library they
# name exists); what those need beyond them is taken from this machine below.
pkgs="libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libc-ares-dev libre2-dev libssl-dev zlib1g-dev libpqxx-dev libpq-dev libyaml-cpp-dev
  libgrpc++1.51 libgrpc29 libabsl20220623 libprotobuf32 libprotobuf-lite32 libprotoc32 libc-ares2
  libre2-9 libpqxx-6.4 libpq5 libyaml-cpp0.7 libssl3 zlib1g
  libcsv-dev libcsv3 libzip-dev libzip4 libmicrohttpd-dev libmicrohttpd12 libgtest-dev libgmock-dev
  pkgconf pkgconf-bin libpkgconf3 postgresql-15 postgresql-client-15 postgresql-common"
(cd "$work/debs" && apt-get download $pkgs >/dev/null 2>&1) ||
  { echo "make_hostdeps: apt-get download failed (network?)" >&2; exit 1; }
for f in "$work"/debs/*.deb; do dpkg -x "$f" "$work/root"; done
r=$work/root
rm -rf "$r"/usr/share/{doc,man,locale,lintian} "$r"/usr/lib/postgresql/15/lib/bitcode \
  "$r"/usr/lib/postgresql/15/lib/llvmjit*.so "$r"/etc "$r"/var
# Static archives are not needed, except GoogleTest's (the engine's tests run on the device).
find "$r" -name '*.a' ! -name 'libgtest*' ! -name 'libgmock*' -delete
# Shared libraries the binaries and libraries need, resolved here, minus glibc and the C++ runtime
# (the host's own are newer). gpu_e2e.sh drops those the host already has.
lib=$r/usr/lib/x86_64-linux-gnu
mkdir -p "$lib"
bins="$(find "$r/usr/lib/postgresql/15/bin" "$r/usr/bin" -type f -perm -u+x)"
sos="$(ls /usr/lib/x86_64-linux-gnu/lib{grpc++,grpc,gpr,upb,address_sorting,protobuf,protoc,pqxx-6.4,pq,yaml-cpp,csv,zip,microhttpd}.so* 2>/dev/null)"
for f in $bins $sos "$r"/usr/lib/postgresql/15/lib/*.so; do
  { ldd "$f" 2>/dev/null || true; } | awk '$3 ~ /^\// {print $3}'
done | sort -u | while read -r so; do
  case "$(basename "$so")" in
    libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|libresolv.so*|libnsl.so*|libutil.so*| \
    libanl.so*|libnss_*|ld-linux*|libstdc++.so*|libgcc_s.so*) ;;
    *) cp -L "$so" "$lib/" ;;
  esac
done
for so in $sos; do cp -P "$so" "$lib/" 2>/dev/null || true; done
tar -C "$r" -cJf "$out/sysroot.tar.xz" usr
du -h "$out/sysroot.tar.xz"
