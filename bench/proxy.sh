#!/usr/bin/env bash
# Measures the browser networking path natively: RelayNet -> WebSocket (host transport)
# -> friscy-proxy -> a TCP echo server on 127.0.0.1, and back. Prints the round-trip time
# of a 1-byte message and the echo throughput of 256 MiB (release builds).
#
#   bench/proxy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/friscy/target}"
cargo test --release --quiet -p friscy-proxy --test relay -- \
  --ignored --nocapture --exact throughput_and_round_trip 2>&1 | grep '^relay'
