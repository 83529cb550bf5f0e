#!/usr/bin/env bash
# Sets up, builds, and runs the default demo: a riscv64 program from the bundled image
# inside the sealed friscy.wasm under the plain wasmtime CLI, then the same image in the
# native host, and (with the Alpine image) a shell pipeline.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
export PATH="$HOME/.cargo/bin:$PATH"
set -x
wasmtime run build/friscy.wasm -- /hello a b
build/friscy run --rootfs build/rootfs.tar -- /bin/exit_status 3 || echo "exit status: $?"
# With the Alpine image at hand (../shared/fixtures or FRISCY_ALPINE_TAR): a real distro's
# shell, forking a pipeline.
alpine="${FRISCY_ALPINE_TAR:-../shared/fixtures/alpine-minirootfs-3.20.3-riscv64.tar.gz}"
if [ -e "$alpine" ]; then
  build/friscy run --rootfs "$alpine" -- /bin/sh -c \
    'echo "hello from $(uname -m) $(cat /etc/alpine-release)" | tr a-z A-Z; ls /etc | wc -l'
else
  set +x
  echo "demo: no Alpine image at $alpine (set FRISCY_ALPINE_TAR) for the shell demo" >&2
fi
