#!/usr/bin/env bash
# Runs every differential case of tests/reference.rs (known to pass or not) against the
# chroot reference and prints the pass/fail table, with the first difference and friscy's
# unsupported or failing syscalls for each failure. Builds nothing: run scripts/build.sh
# (and scripts/debian-rootfs.sh) first.
#
#   scripts/reference-table.sh [REPORT.md]
#
# FRISCY_REFERENCE_FILTER=python runs only cases whose name contains "python";
# FRISCY_REFERENCE_JOBS=N runs N cases at once (default 2). Fails if a case marked `pass`
# fails.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/friscy/target}"
if [ -n "${1:-}" ]; then export FRISCY_REFERENCE_REPORT=$(realpath -m "$1"); fi
exec cargo test --quiet -p friscy-tests --test reference -- --ignored --exact reference_table --nocapture
