#!/usr/bin/env bash
# The browser's figures (docs/PERFORMANCE.md, "In the browser"):
#
#   1. CPU speed: bench/src programs in headless Chromium (a friscy-pack --web site,
#      `?arg=/PROG`), under Node (`node SITE/friscy.mjs -- /PROG`, the same V8) and under
#      `wasmtime run` of the fused build sealed with the same programs, each minus its own
#      start-up (the `nop` row), best of --repeat.
#   2. Start-up: navigation to the Alpine shell prompt, first visit (image downloaded into
#      OPFS) and second visit (image from OPFS), in a fresh Chromium profile.
#   3. Transfer size: the Alpine site's files, and gzip'd as a server would send them.
#
# Usage: bench/web.sh [--scale X] [--repeat N] [--only "sha256 ..."]   (after scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
OUT=build/bench-web
SCALE=0.25
REPEAT=3
PROGS="sha256 crc32 nbody qsort matmul bytecode"
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE=$2; shift ;;
    --repeat) REPEAT=$2; shift ;;
    --only) PROGS=$2; shift ;;
    *) echo "bench/web.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
step() { printf '\033[1mbench/web:\033[0m %s\n' "$*" >&2; }
rm -rf $OUT/site $OUT/alpine && mkdir -p $OUT/root $OUT/log

step "guest programs (riscv64, -O2 -static -ffp-contract=off)"
for p in nop $PROGS; do
  riscv64-linux-gnu-gcc -O2 -static -ffp-contract=off -o $OUT/root/$p bench/src/$p.c -lm
done
tar --owner=0 --group=0 --numeric-owner --sort=name --mtime=@0 -C $OUT/root -cf $OUT/rootfs.tar .
build/friscy-pack $OUT/rootfs.tar --web -q -o $OUT/site

step "sealed fused component of the programs (for wasmtime run)"
CARGO_TARGET_DIR="$HOME/.cache/friscy/bench-target" FRISCY_ROOTFS="$PWD/$OUT/rootfs.tar" \
  cargo build --quiet --target wasm32-wasip2 --release -p friscy-rootfs
cp "$HOME/.cache/friscy/bench-target/wasm32-wasip2/release/friscy_rootfs.wasm" $OUT/rootfs.wasm
wac compose -o $OUT/fused-bench.wasm --dep friscy:open=build/friscy-fused-open.wasm \
  --dep friscy:rootfs=$OUT/rootfs.wasm compose/friscy-sealed.wac >/dev/null
wasmtime run $OUT/fused-bench.wasm -- /nop >/dev/null   # warm wasmtime's compile cache

best() { # best-of wall seconds of "$@"
  local b=""
  for _ in $(seq "$REPEAT"); do
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s%N)
    b=$(awk -v a="$t0" -v c="$t1" -v b="$b" 'BEGIN { s=(c-a)/1e9; if (b!="" && b<s) s=b; printf "%.3f", s }')
  done
  echo "$b"
}

step "wasmtime and node (scale $SCALE, best of $REPEAT)"
declare -A WT ND
for p in nop $PROGS; do
  WT[$p]=$(best wasmtime run $OUT/fused-bench.wasm -- /$p $SCALE)
  ND[$p]=$(best node $OUT/site/friscy.mjs -- /$p $SCALE)
  wasmtime run $OUT/fused-bench.wasm -- /$p $SCALE >$OUT/log/$p.wasmtime 2>&1
  node $OUT/site/friscy.mjs -- /$p $SCALE >$OUT/log/$p.node 2>&1
done

step "chromium (scale $SCALE, best of $REPEAT)"
node bench/web-browser.mjs cpu "$OUT/site" "$SCALE" "$REPEAT" nop $PROGS >$OUT/log/chromium.txt
declare -A CH
FAILED=0
while read -r p s out; do
  CH[$p]=$s
  # Every engine must have printed the same checksum.
  want=$(head -1 $OUT/log/$p.wasmtime)
  if [ "$out" != "$want" ] || [ "$(head -1 $OUT/log/$p.node)" != "$want" ]; then
    echo "bench/web: $p printed different results: wasmtime '$want', node '$(head -1 $OUT/log/$p.node)', chromium '$out'" >&2
    FAILED=1
  fi
done <$OUT/log/chromium.txt

echo
echo "| program | wasmtime s | node s | chromium s | chromium / wasmtime |"
echo "|---|---|---|---|---|"
for p in nop $PROGS; do
  if [ "$p" = nop ]; then
    echo "| nop (start-up) | ${WT[nop]} | ${ND[nop]} | ${CH[nop]} | |"
    continue
  fi
  awk -v p="$p" -v w="${WT[$p]}" -v wn="${WT[nop]}" -v n="${ND[$p]}" -v nn="${ND[nop]}" \
      -v c="${CH[$p]}" -v cn="${CH[nop]}" 'BEGIN {
    w -= wn; n -= nn; c -= cn;
    printf "| %s | %.3f | %.3f | %.3f | %.2f |\n", p, w, n, c, c / w }'
done

step "start-up: Alpine site, first and second visit"
alpine="${FRISCY_ALPINE_TAR:-../shared/fixtures/alpine-minirootfs-3.20.3-riscv64.tar.gz}"
build/friscy-pack "$alpine" --web -q -o $OUT/alpine
node bench/web-browser.mjs startup "$OUT/alpine" 0 "$REPEAT"

step "transfer size of the Alpine site"
( cd $OUT/alpine && find . -type f ! -name friscy.mjs ! -name node-worker.mjs | sort | while read -r f; do
    raw=$(stat -c %s "$f")
    case "$f" in *.gz) gz=$raw ;; *) gz=$(gzip -9 -c "$f" | wc -c) ;; esac
    echo "$f $raw $gz"
  done ) | awk '{ printf "| %s | %d | %d |\n", $1, $2, $3; r += $2; g += $3 }
    END { printf "| total | %d | %d |\n", r, g }'
exit $FAILED
