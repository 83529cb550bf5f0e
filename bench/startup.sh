#!/usr/bin/env bash
# Start-up benchmark (issue 17): how long a short command takes from nothing to exit,
# under the native host (`friscy run IMAGE`), under the plain wasmtime CLI (the sealed
# component made by friscy-pack --compose, and the same precompiled by
# friscy-pack --precompile, run with --allow-precompiled), and under qemu-user in a chroot
# of the same image (binfmt_misc, as scripts/reference.sh sets it up), all in one run;
# warm (every cache filled) and cold (the kernel's page cache dropped and friscy's caches
# emptied).
#
#   bench/startup.sh [--runs N]     # needs scripts/build.sh, both fixtures, root, hyperfine
#
# Prints mean seconds per engine and the ratios to qemu, plus the peak RSS of `/bin/true`
# from the Debian sealed component. The packed components are kept in
# $FRISCY_CACHE/bench-startup (re-packed when the image or friscy-pack changes).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=10
[ "${1:-}" = --runs ] && runs=$2
cache="${FRISCY_CACHE:-$HOME/.cache/friscy}"
work="$cache/bench-startup"
mkdir -p "$work"
alpine_gz="${FRISCY_ALPINE_TAR:-../shared/fixtures/alpine-minirootfs-3.20.3-riscv64.tar.gz}"
debian="${FRISCY_DEBIAN_TAR:-$(scripts/debian-rootfs.sh 2>/dev/null | tail -1)}"
[ -e "$alpine_gz" ] || { echo "bench: no Alpine image at $alpine_gz (set FRISCY_ALPINE_TAR)" >&2; exit 1; }
[ -e "$debian" ] || { echo "bench: no Debian image (scripts/debian-rootfs.sh)" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
[ -x build/friscy ] && [ -x build/friscy-pack ] || { echo "bench: run scripts/build.sh first" >&2; exit 1; }
scripts/reference.sh --check "$alpine_gz" >/dev/null # binfmt_misc for riscv64, flag F
export PATH="$HOME/.cargo/bin:$PATH"

# The images as chroot trees (for qemu) and as sealed components (for wasmtime run).
prepare() { # name image
  local name=$1 image=$2 stamp
  stamp=$(stat -c '%s %Y' "$image" build/friscy-pack | sha256sum | cut -c1-16)
  if [ "$(cat "$work/$name.stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "bench: preparing $name (chroot tree and sealed component; once)" >&2
    rm -rf "$work/$name.root" && mkdir -p "$work/$name.root"
    tar -xf "$image" -C "$work/$name.root"
    build/friscy-pack "$image" --compose -o "$work/$name.wasm" >/dev/null
    build/friscy-pack "$image" --precompile -o "$work/$name.cwasm" 2>/dev/null
    wasmtime run "$work/$name.wasm" -- /bin/true >/dev/null 2>&1 || true # compile once
    echo "$stamp" >"$work/$name.stamp"
  fi
}
prepare alpine "$alpine_gz"
prepare debian "$debian"

# Debian with python3 (and the libraries it loads) translated by rv2wasm: a bundle for
# `friscy run` and the same sealed and precompiled for `wasmtime run` (the target there is
# <= 1x qemu). Packing and compiling take a few minutes, once.
prepare_aot() {
  local stamp
  stamp=$(stat -c '%s %Y' "$debian" build/friscy-pack | sha256sum | cut -c1-16)
  if [ "$(cat "$work/py-aot.stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "bench: preparing Debian with python3 translated (friscy-pack --aot-only; once)" >&2
    rm -rf "$work/py-aot" "$work/py-aot.cwasm"
    build/friscy-pack "$debian" --aot-only /usr/bin/python3 -q -o "$work/py-aot"
    build/friscy-pack "$debian" --aot-only /usr/bin/python3 --precompile -q -o "$work/py-aot.cwasm"
    build/friscy run "$work/py-aot" /bin/true >/dev/null 2>&1 || true # compile once
    echo "$stamp" >"$work/py-aot.stamp"
  fi
}
prepare_aot

# Mean seconds of a command over $runs runs (after one warm-up unless cold).
mean() { # cold(0/1) command...
  local cold=$1; shift
  local prep=() json="$work/h.json" n=$runs
  if [ "$cold" = 1 ]; then
    # Empty caches: the kernel's page cache, friscy's compiled components and unpacked
    # rootfs tars, wasmtime's compiled code. Each run then compiles: fewer runs.
    # (hyperfine -N runs it without a shell: hence sh -c.)
    prep=(--prepare "sh -c 'sync; echo 3 > /proc/sys/vm/drop_caches; rm -rf $cache/compiled $cache/rootfs $cache/index $HOME/.cache/wasmtime'")
    n=3
  else
    prep=(--warmup 2)
  fi
  hyperfine -N --runs "$n" "${prep[@]}" --export-json "$json" -- "$(printf '%q ' "$@")" >/dev/null 2>&1 \
    || { echo "bench: failed: $*" >&2; exit 1; }
  python3 -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["results"][0]["mean"])' "$json"
}

row() { # label cold image-name image command...
  local label=$1 cold=$2 name=$3 image=$4; shift 4
  local f w p q
  f=$(mean "$cold" build/friscy run "$image" "$@")
  w=$(mean "$cold" wasmtime run "$work/$name.wasm" -- "$@")
  p=$(mean "$cold" wasmtime run --allow-precompiled "$work/$name.cwasm" -- "$@")
  q=$(mean "$cold" chroot "$work/$name.root" "$@")
  printf '%-32s %9s %9s %9s %9s %6s %6s %6s\n' "$label" "$f" "$w" "$p" "$q" \
    "$(awk -v a="$f" -v b="$q" 'BEGIN { printf "%.2f", a / b }')" \
    "$(awk -v a="$w" -v b="$q" 'BEGIN { printf "%.2f", a / b }')" \
    "$(awk -v a="$p" -v b="$q" 'BEGIN { printf "%.2f", a / b }')"
}

printf '%-32s %9s %9s %9s %9s %6s %6s %6s\n' "workload" "friscy s" "wasm s" "cwasm s" "qemu s" \
  "fr/q" "wasm/q" "cw/q"
for cold in 0 1; do
  tag=$([ $cold = 1 ] && echo cold || echo warm)
  row "alpine busybox true ($tag)" $cold alpine "$alpine_gz" /bin/true
  row "debian /bin/true ($tag)" $cold debian "$debian" /bin/true
  row "debian python3 -c pass ($tag)" $cold debian "$debian" python3 -c pass
done
# Translated Python, warm (a cold run compiles 100 MiB of Wasm first; not a start-up
# figure). The .wasm column is left out: wasmtime hashes the 300 MiB component before
# looking in its cache.
f=$(mean 0 build/friscy run "$work/py-aot" python3 -c pass)
p=$(mean 0 wasmtime run --allow-precompiled "$work/py-aot.cwasm" -- python3 -c pass)
q=$(mean 0 chroot "$work/debian.root" python3 -c pass)
printf '%-32s %9s %9s %9s %9s %6s %6s %6s\n' "python3 -c pass, translated" "$f" - "$p" "$q" \
  "$(awk -v a="$f" -v b="$q" 'BEGIN { printf "%.2f", a / b }')" - \
  "$(awk -v a="$p" -v b="$q" 'BEGIN { printf "%.2f", a / b }')"
for c in wasm cwasm; do
  rss=$(/usr/bin/time -f %M wasmtime run --allow-precompiled "$work/debian.$c" -- /bin/true 2>&1 >/dev/null | tail -1)
  echo "peak RSS, /bin/true from the Debian sealed component ($c) under wasmtime run: $((rss / 1024)) MB"
done
