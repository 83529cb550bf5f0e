#!/usr/bin/env bash
# CPU-bound guest programs (bench/src/*.c) on four engines, with checksums compared:
#
#   native        the program built for x86-64 (gcc -O2 -static), the upper bound
#   qemu          qemu-riscv64 (user mode, TCG), the reference emulator
#   friscy-native friscy's kernel + interpreter + vfs linked natively (bench/native-runner)
#   friscy-wasm   `wasmtime run` of a sealed friscy.wasm (build/friscy-open.wasm composed
#                 with a rootfs component holding the programs, as scripts/build.sh does)
#   friscy-aot    the same with exec swapped for an rv2wasm build of the programs (the
#                 AOT backend, issue 16): fr-aot
#
# Prints every time, the ratios, the guest instructions retired (counted by friscy-native)
# and friscy's MIPS. Exits non-zero if any engine's output differs.
#
# Usage: bench/run.sh [--quick] [--scale X] [--repeat N] [--only "sha256 nbody ..."]
#                     [--no-build] [--no-wasm] [--no-aot]
#   --quick     scale 0.05: a smoke test of every engine in well under a minute
#   --repeat N  N rounds of every program on every engine; each keeps its fastest (default 1)
#   --no-build  use build/friscy-open.wasm as it is (default: scripts/build.sh --no-host)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/friscy/target}"
OUT=build/bench
SCALE=1
REPEAT=1
BUILD=1
WASM=1
AOT=1
PROGS="sha256 crc32 nbody qsort matmul bytecode"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) SCALE=0.05 ;;
    --scale) SCALE=$2; shift ;;
    --repeat) REPEAT=$2; shift ;;
    --only) PROGS=$2; shift ;;
    --no-build) BUILD=0 ;;
    --no-wasm) WASM=0; AOT=0 ;;
    --no-aot) AOT=0 ;;
    *) echo "bench: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done
step() { printf '\033[1mbench:\033[0m %s\n' "$*" >&2; }
mkdir -p $OUT/rv $OUT/x86 $OUT/root $OUT/log

step "guest programs (riscv64-linux-gnu-gcc and gcc, -O2 -static)"
# -ffp-contract=off: GCC fuses a*b+c into fmadd on riscv64 but not on baseline x86-64, and
# the floating-point checksums must agree bit for bit.
CFLAGS="-O2 -static -ffp-contract=off"
for p in nop $PROGS; do
  src=bench/src/$p.c
  for pair in "rv riscv64-linux-gnu-gcc" "x86 gcc"; do
    set -- $pair
    if [ ! -e $OUT/$1/$p ] || [ $src -nt $OUT/$1/$p ] || [ bench/src/bench.h -nt $OUT/$1/$p ]; then
      $2 $CFLAGS -o $OUT/$1/$p $src -lm
    fi
  done
  cp $OUT/rv/$p $OUT/root/$p
done
tar --owner=0 --group=0 --numeric-owner --sort=name --mtime=@0 -C $OUT/root -cf $OUT/rootfs.tar .

step "friscy-native (cargo build --release -p friscy-native)"
cargo build --quiet --release -p friscy-native
cp "$CARGO_TARGET_DIR/release/friscy-native" $OUT/friscy-native

if [ $WASM = 1 ]; then
  if [ $BUILD = 1 ] || [ ! -e build/friscy-open.wasm ]; then
    step "components (scripts/build.sh --no-host)"
    scripts/build.sh --no-host
  fi
  step "sealed friscy-bench.wasm: build/friscy-open.wasm + a rootfs component of the programs"
  # A target dir of its own: the rootfs component embeds FRISCY_ROOTFS, and sharing the
  # main one would flip scripts/build.sh's image back and forth.
  CARGO_TARGET_DIR="$HOME/.cache/friscy/bench-target" FRISCY_ROOTFS="$PWD/$OUT/rootfs.tar" \
    cargo build --quiet --target wasm32-wasip2 --release -p friscy-rootfs
  cp "$HOME/.cache/friscy/bench-target/wasm32-wasip2/release/friscy_rootfs.wasm" $OUT/rootfs.wasm
  wac compose -o $OUT/friscy-bench.wasm --dep friscy:open=build/friscy-open.wasm \
    --dep friscy:console=build/components/console-wasi.wasm \
    --dep friscy:rootfs=$OUT/rootfs.wasm compose/friscy-sealed.wac >/dev/null
fi
if [ $AOT = 1 ]; then
  step "sealed friscy-bench-aot.wasm: the programs translated by rv2wasm into exec"
  # build/rv2wasm is what scripts/build.sh last copied: with --no-build a newer cargo
  # build is not what gets measured.
  if [ "$CARGO_TARGET_DIR/release/rv2wasm" -nt build/rv2wasm ]; then
    echo "  warning: $CARGO_TARGET_DIR/release/rv2wasm is newer than build/rv2wasm, which is measured (scripts/build.sh copies it)" >&2
  fi
  C=build/components
  t0=$(date +%s%N)
  build/rv2wasm $OUT/rv/* --exec $C/exec.wasm -o $OUT/exec-aot.wasm 2>$OUT/log/rv2wasm.err
  t1=$(date +%s%N)
  sed 's/^/  /' $OUT/log/rv2wasm.err >&2
  wac compose -o $OUT/friscy-aot-open.wasm --dep friscy:exec=$OUT/exec-aot.wasm \
    --dep friscy:vfs=$C/vfs.wasm --dep friscy:net=$C/net.wasm --dep friscy:kernel=$C/kernel.wasm \
    compose/friscy-open.wac >/dev/null
  wac compose -o $OUT/friscy-bench-aot.wasm --dep friscy:open=$OUT/friscy-aot-open.wasm \
    --dep friscy:console=$C/console-wasi.wasm \
    --dep friscy:rootfs=$OUT/rootfs.wasm compose/friscy-sealed.wac >/dev/null
  echo "  rv2wasm $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')s wall" >&2
fi

# run NAME ENGINE CMD...: runs CMD once with stdout and stderr to
# $OUT/log/NAME.ENGINE.{out,err}; keeps the fastest wall time in BEST[NAME.ENGINE].
declare -A BEST=()
run() {
  local name=$1 engine=$2 t0 t1
  shift 2
  t0=$(date +%s%N)
  if ! "$@" >$OUT/log/$name.$engine.out 2>$OUT/log/$name.$engine.err; then
    echo "bench: $engine $name failed: $(tail -3 $OUT/log/$name.$engine.err)" >&2
    FAILED=1
  fi
  t1=$(date +%s%N)
  BEST[$name.$engine]=$(awk -v a="$t0" -v b="$t1" -v best="${BEST[$name.$engine]:-}" \
    'BEGIN { s = (b - a) / 1e9; if (best != "" && best < s) s = best; printf "%.3f", s }')
}

# Both sealed components are compiled once here (a cold compile takes seconds), as
# `friscy-pack --precompile` does: `wasmtime compile` writes a .cwasm that `wasmtime run
# --allow-precompiled` maps, where a .wasm run goes through wasmtime's cache, which
# decompresses and copies the compiled code at every start (0.6-0.9 s for the 50 MB AOT
# component: more than some programs' run, and noisy). A wasmtime without `compile`
# falls back to the cache.
# precompile NAME: sets CWASM to what to run for $OUT/NAME.wasm.
precompile() {
  local t0 t1
  step "compiling $1.wasm once"
  t0=$(date +%s%N)
  if wasmtime compile --help >/dev/null 2>&1; then
    wasmtime compile $OUT/$1.wasm -o $OUT/$1.cwasm
    CWASM="--allow-precompiled $OUT/$1.cwasm"
  else
    echo "  (this wasmtime has no compile: runs go through its cache, start-up included)" >&2
    wasmtime run $OUT/$1.wasm -- /nop >/dev/null
    CWASM="$OUT/$1.wasm"
  fi
  t1=$(date +%s%N)
  echo "  $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')s" >&2
}
if [ $WASM = 1 ]; then
  precompile friscy-bench
  RUN_WASM=$CWASM
fi
if [ $AOT = 1 ]; then
  precompile friscy-bench-aot
  RUN_AOT=$CWASM
fi

step "running (scale $SCALE, best of $REPEAT)"
FAILED=0
ENGINES="native qemu friscy-native"
[ $WASM = 1 ] && ENGINES="$ENGINES friscy-wasm"
[ $AOT = 1 ] && ENGINES="$ENGINES friscy-aot"
RESULTS=$OUT/results.txt
: >$RESULTS
# --repeat N runs N rounds, each running every program on every engine once, and keeps
# each one's fastest: this VM's speed drifts by 10-30% within minutes, and rounds spread
# that drift over all engines where back-to-back repeats of one engine did not.
for round in $(seq "$REPEAT"); do
  [ "$REPEAT" -gt 1 ] && echo "  round $round of $REPEAT" >&2
  for p in nop $PROGS; do
    run $p native $OUT/x86/$p $SCALE
    run $p qemu qemu-riscv64 $OUT/rv/$p $SCALE
    run $p friscy-native env FRISCY_NATIVE_INSTRET=1 $OUT/friscy-native --rootfs $OUT/rootfs.tar -- /$p $SCALE
    [ $WASM = 1 ] && run $p friscy-wasm wasmtime run $RUN_WASM -- /$p $SCALE
    [ $AOT = 1 ] && run $p friscy-aot wasmtime run $RUN_AOT -- /$p $SCALE
    for e in $ENGINES; do
      if ! cmp -s $OUT/log/$p.native.out $OUT/log/$p.$e.out; then
        echo "bench: $p: $e printed '$(head -c 200 $OUT/log/$p.$e.out)', native '$(cat $OUT/log/$p.native.out)'" >&2
        FAILED=1
      fi
    done
  done
done
for p in nop $PROGS; do
  INSTRET=$(sed -n 's/^friscy-native: instret \([0-9]*\).*/\1/p' $OUT/log/$p.friscy-native.err)
  echo "$p ${BEST[$p.native]} ${BEST[$p.qemu]} ${BEST[$p.friscy-native]} ${BEST[$p.friscy-wasm]:-0} ${BEST[$p.friscy-aot]:-0} ${INSTRET:-0} $(tr -d '\n' <$OUT/log/$p.native.out)" >>$RESULTS
done

# The table: wall times as measured; ratios (lower is faster for friscy) and MIPS (guest
# instructions retired per second) from the times less each engine's start-up, which is the
# nop row (for friscy-wasm and friscy-aot: mapping the precompiled component and
# instantiating it).
awk -v wasm=$WASM -v aot=$AOT '
  function net(t, k) { t -= nop[k]; return t > 0.0005 ? t : 0.0005 }
  function r(a, ka, b, kb) { return sprintf("%.2f", net(a, ka) / net(b, kb)) }
  function mips(n, s, k) { return n > 0 ? sprintf("%.0f", n / net(s, k) / 1e6) : "-" }
  function opt(on, v) { return on ? v : "-" }
  $1 == "nop" { for (k = 2; k <= 6; k++) nop[k] = $k }
  BEGIN {
    printf "%-9s %8s %8s %8s %8s %8s | %7s %7s %7s %7s | %7s %7s | %9s %6s %6s %6s\n", "program",
      "native", "qemu", "fr-nat", "fr-wasm", "fr-aot", "fn/qemu", "fw/qemu", "fn/nat", "fw/nat",
      "qemu/fa", "fw/fa", "Minstr", "MIPSfn", "MIPSfw", "MIPSfa"
  }
  {
    if ($1 == "nop") {
      printf "%-9s %8.3f %8.3f %8.3f %8s %8s   (start-up, subtracted below)\n", $1, $2, $3, $4,
        opt(wasm, sprintf("%.3f", $5)), opt(aot, sprintf("%.3f", $6))
      next
    }
    if (aot) { n++; lq += log(net($3, 3) / net($6, 6)); lw += log(net($5, 5) / net($6, 6)) }
    printf "%-9s %8.3f %8.3f %8.3f %8s %8s | %7s %7s %7s %7s | %7s %7s | %9.0f %6s %6s %6s\n", $1,
      $2, $3, $4, opt(wasm, sprintf("%.3f", $5)), opt(aot, sprintf("%.3f", $6)), r($4, 4, $3, 3),
      opt(wasm, r($5, 5, $3, 3)), r($4, 4, $2, 2), opt(wasm, r($5, 5, $2, 2)),
      opt(aot, r($3, 3, $6, 6)), opt(aot && wasm, r($5, 5, $6, 6)), $7 / 1e6, mips($7, $4, 4),
      opt(wasm, mips($7, $5, 5)), opt(aot, mips($7, $6, 6))
  }
  END {
    if (aot && n > 0)
      printf "geometric means: qemu/fr-aot %.2f, fr-wasm/fr-aot %.2f\n", exp(lq / n), exp(lw / n)
  }' $RESULTS
echo "checksums:"
cut -d' ' -f8- $RESULTS | sed 's/^/  /'
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cpus," \
  "load $(cut -d' ' -f1-3 /proc/loadavg); $(wasmtime --version); $(qemu-riscv64 --version | head -1)"
if [ $FAILED = 1 ]; then
  echo "bench: FAILED (see above and $OUT/log/)" >&2
  exit 1
fi
