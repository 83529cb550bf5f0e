#!/usr/bin/env bash
# Sets up what is missing, builds everything, and runs every test: formatting and lints,
# the libraries' unit tests (exec's differential tests against qemu-riscv64 included), the
# kernel run natively, and the end-to-end tests of the built components under the wasmtime
# CLI and the native host.
#
#   scripts/test.sh
#
# The Alpine test uses ../shared/fixtures/alpine-minirootfs-3.20.3-riscv64.tar.gz, or the
# image named by FRISCY_ALPINE_TAR; without one it prints SKIPPED.
#
# The differential tests (tests/reference.rs) compare friscy with Linux (a qemu chroot,
# scripts/reference.sh, which needs root and binfmt_misc) on Alpine and on a Debian trixie
# image that scripts/debian-rootfs.sh builds once (about 50 s and 92 MB, cached in
# ~/.cache/friscy/fixtures) or FRISCY_DEBIAN_TAR names. FRISCY_DEBIAN=0 skips building it
# (the Debian cases then print SKIPPED). `cargo test` runs the cases known to pass;
# FRISCY_REFERENCE_ALL=1 also runs every case and prints the pass/fail table.
#
# The fuzz targets (scripts/fuzz.sh) run FRISCY_FUZZ_SECONDS (default 30) each.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
scripts/setup.sh
scripts/build.sh
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/friscy/target}"
echo "test: cargo fmt --check" >&2
cargo fmt --all --check
echo "test: cargo clippy" >&2
cargo clippy --quiet --workspace --all-targets -- -D warnings
alpine="${FRISCY_ALPINE_TAR:-../shared/fixtures/alpine-minirootfs-3.20.3-riscv64.tar.gz}"
[ -e "$alpine" ] || echo "test: SKIPPED the Alpine tests: no $alpine (set FRISCY_ALPINE_TAR)" >&2
if [ -z "${FRISCY_DEBIAN_TAR:-}" ] && [ "${FRISCY_DEBIAN:-1}" != 0 ]; then
  echo "test: Debian fixture (scripts/debian-rootfs.sh; cached)" >&2
  scripts/debian-rootfs.sh >/dev/null \
    || echo "test: SKIPPED the Debian reference cases: scripts/debian-rootfs.sh failed (above)" >&2
else
  [ -n "${FRISCY_DEBIAN_TAR:-}" ] || echo "test: SKIPPED the Debian reference cases: FRISCY_DEBIAN=0" >&2
fi
echo "test: binfmt_misc for riscv64 (scripts/reference.sh --binfmt): differential cases whose children exec riscv64 files under plain qemu-riscv64" >&2
scripts/reference.sh --binfmt \
  || echo "test: those cases will say SKIPPED (binfmt_misc could not be set up, above)" >&2
echo "test: cargo test" >&2
# The host's behaviour is tested end to end (tests/e2e.rs); `friscy serve` below.
# FRISCY_FUZZ_WASM=1: exec's fuzzer also runs its programs on the wasm32 interpreter.
FRISCY_FUZZ_WASM=1 cargo test --no-fail-fast --workspace --exclude friscy-host --exclude friscy-shim
# The shim links wasmtime: its unit tests reuse the release build scripts/build.sh made
# instead of compiling wasmtime again in debug. (Its behaviour under a real containerd is
# tests/containerd.rs, above.)
cargo test --release -p friscy-shim
echo "test: the end-to-end and Alpine reference tests again on the AOT exec (FRISCY_EXEC=aot)" >&2
# tests/aot.rs ran above; these run the same cases with friscy(-open).wasm swapped for
# their rv2wasm builds (scripts/build.sh), translated code and the interpreter fallback.
# Compile the AOT components once first (minutes: they are large), so that no time-limited
# case pays for it: wasmtime's cache is keyed by content, friscy's by path.
wasmtime run build/friscy-aot.wasm -- /hello >/dev/null
build/friscy run --component "$PWD/build/friscy-aot-open.wasm" --rootfs build/rootfs.tar /hello >/dev/null
FRISCY_EXEC=aot cargo test --no-fail-fast -p friscy-tests --test e2e --test reference
echo "test: exec's random-program fuzzer on translated code (FRISCY_FUZZ_AOT=1: rv2wasm into run_elf's wasm32 build)" >&2
# Each program's translation is compiled afresh by wasmtime (about 15 s each), so this
# runs fewer sequences than the interpreter's run above: FRISCY_FUZZ_AOT_N (default 400).
FRISCY_FUZZ_AOT=1 FRISCY_FUZZ_N="${FRISCY_FUZZ_AOT_N:-400}" cargo test -p friscy-exec --test fuzz
echo "test: fuzz targets, ${FRISCY_FUZZ_SECONDS:-30} s each (scripts/fuzz.sh)" >&2
scripts/fuzz.sh
echo "test: exec's unit tests on wasm32 (under wasmtime)" >&2
# exec also runs as wasm32, where usize has 32 bits (guest addresses once wrapped there).
CARGO_TARGET_WASM32_WASIP2_RUNNER="wasmtime run" \
  cargo test --quiet --target wasm32-wasip2 -p friscy-exec --lib
echo "test: friscy's unit tests: serve's path checks, the rootfs cache, limits (release, sharing the host build's dependencies)" >&2
cargo test --quiet --release -p friscy-host
echo "test: friscy-pack --web sites under Node and in Chromium (web/test/run.sh)" >&2
web/test/run.sh
if [ "${FRISCY_REFERENCE_ALL:-0}" = 1 ]; then
  echo "test: every differential case (FRISCY_REFERENCE_ALL=1)" >&2
  scripts/reference-table.sh
fi
echo "test: all passed in $((SECONDS - start)) s" >&2
