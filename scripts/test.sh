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
echo "test: cargo test" >&2
# The host has no tests of its own; its behaviour is tested end to end (tests/e2e.rs).
cargo test --workspace --exclude friscy-host
echo "test: all passed in $((SECONDS - start)) s" >&2
