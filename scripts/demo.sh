#!/usr/bin/env bash
# Sets up, builds, and runs the default demo: a riscv64 program from the bundled image
# inside the sealed friscy.wasm under the plain wasmtime CLI, then the same image in the
# native host.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
export PATH="$HOME/.cargo/bin:$PATH"
set -x
wasmtime run build/friscy.wasm -- /hello a b
build/friscy run --rootfs build/rootfs.tar -- /bin/exit_status 3 || echo "exit status: $?"
