#!/usr/bin/env bash
# Builds the fuzz targets in fuzz/ (libFuzzer through libfuzzer-sys, with stable Rust's
# coverage instrumentation: no nightly needed) and runs each for a bounded time over its
# seed corpus in fuzz/corpus/TARGET. New inputs it finds go to a scratch corpus in the
# cache, not into the repository; a crash or a panic fails the script and leaves the input
# in fuzz/artifacts/TARGET/ (turn it into a regression test, then fix it).
#
#   scripts/fuzz.sh                 # every target, FRISCY_FUZZ_SECONDS (default 30) each
#   scripts/fuzz.sh syscalls 300    # one target, for 300 s
#
# The same targets run under cargo-fuzz (`cargo +nightly fuzz run syscalls`) for longer
# campaigns with sanitizers.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
CACHE="${FRISCY_CACHE:-$HOME/.cache/friscy}"
seconds="${2:-${FRISCY_FUZZ_SECONDS:-30}}"
targets=(proxy_frame tar_index elf_loader oci_parse syscalls)
[ $# -ge 1 ] && targets=("$1")

# What cargo-fuzz passes: libFuzzer's coverage counters and comparison tracing.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}/fuzz"
# An explicit --target keeps the instrumentation out of build scripts and proc macros.
host=$(rustc -vV | sed -n 's/^host: //p')
echo "fuzz: building ${targets[*]}" >&2
( cd fuzz && cargo build --quiet --release --locked --target "$host" "${targets[@]/#/--bin=}" )
bin="$CARGO_TARGET_DIR/$host/release"

for t in "${targets[@]}"; do
  work="$CACHE/fuzz-corpus/$t"
  mkdir -p "$work" "fuzz/artifacts/$t"
  echo "fuzz: $t for $seconds s" >&2
  # -rss_limit_mb: the kernel's own limits keep a guest far below it; a breach is a bug.
  "$bin/$t" "$work" "fuzz/corpus/$t" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
    -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 2>"$work.log" || {
      tail -40 "$work.log" >&2
      echo "fuzz: $t FAILED; the input is in fuzz/artifacts/$t/" >&2
      exit 1
    }
  grep -E "stat::number_of_executed_units|cov:" "$work.log" | tail -2 | sed "s/^/fuzz: $t: /" >&2
done
echo "fuzz: ${#targets[@]} target(s) ran ${seconds} s each without a finding" >&2
