#!/usr/bin/env bash
# Process benchmarks (issue 5): fork+exec, a pipeline, Python subprocesses. Each workload
# runs under friscy (build/friscy, the component under wasmtime) and under the reference,
# qemu-riscv64-static in a chroot (scripts/reference.sh), in the same run; prints seconds
# and the ratio friscy/qemu.
#
#   bench/proc.sh            # needs scripts/build.sh, the Alpine and Debian fixtures, root
set -euo pipefail
cd "$(dirname "$0")/.."
alpine_gz="${FRISCY_ALPINE_TAR:-../shared/fixtures/alpine-minirootfs-3.20.3-riscv64.tar.gz}"
debian="${FRISCY_DEBIAN_TAR:-$(scripts/debian-rootfs.sh 2>/dev/null | tail -1)}"
[ -e "$alpine_gz" ] || { echo "bench: no Alpine image at $alpine_gz (set FRISCY_ALPINE_TAR)" >&2; exit 1; }
[ -e "$debian" ] || { echo "bench: no Debian image (scripts/debian-rootfs.sh)" >&2; exit 1; }
scripts/reference.sh --check "$alpine_gz" >/dev/null

# Seconds for one command, best of 3 (start-up noise aside, these are long runs).
best() {
  local best=""
  for _ in 1 2 3; do
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; exit 1; }
    t1=$(date +%s.%N)
    best=$(awk -v a="$t0" -v z="$t1" -v b="$best" 'BEGIN { d = z - a; if (b == "" || d < b) print d; else print b }')
  done
  printf '%.3f' "$best"
}

row() {
  local name=$1 image=$2; shift 2
  local f q
  build/friscy run --rootfs "$image" -- true >/dev/null 2>&1 || true # warm the compile cache
  f=$(best build/friscy run --rootfs "$image" -- "$@")
  q=$(best scripts/reference.sh "$image" -- "$@")
  printf '%-34s %9s %9s %8s\n' "$name" "$f" "$q" "$(awk -v f="$f" -v q="$q" 'BEGIN { printf "%.2f", f / q }')"
}

printf '%-34s %9s %9s %8s\n' workload "friscy s" "qemu s" ratio
row "sh: 200 x fork+exec /bin/true" "$alpine_gz" /bin/sh -c 'i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done'
row "100 MiB through cat | wc -c" "$alpine_gz" /bin/sh -c 'head -c 104857600 /dev/zero | cat | wc -c'
row "python3: 50 subprocess.run" "$debian" /usr/bin/python3 -c 'import subprocess
for _ in range(50): subprocess.run(["/bin/true"], check=True)'
