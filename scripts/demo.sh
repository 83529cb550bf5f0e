#!/usr/bin/env bash
# The README's first command: sets up what is missing, builds friscy, builds the default
# image (Debian trixie riscv64 from Debian's packages: bash, coreutils, python3, node;
# scripts/debian-rootfs.sh, cached), and runs it: an interactive bash when a terminal is
# attached, otherwise a short script that shows a real distribution at work, under the
# native host and then as a sealed component under the plain wasmtime CLI.
#
#   scripts/demo.sh            # the first run takes about 30 minutes on 2 cores (compiling
#                              # wasmtime, wasm-tools, wac, then friscy); later ones seconds
#   scripts/demo.sh --script   # the scripted demo even on a terminal
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
say() { printf '\033[1mdemo [%dm%02ds]:\033[0m %s\n' $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)) "$*" >&2; }
if [ ! -x "$HOME/.cargo/bin/wasmtime" ] || [ ! -x build/friscy ]; then
  say "first run: setting up tools and building everything (about 25 minutes on 2 cores, then the image)"
fi
say "setup (scripts/setup.sh: installs only what is missing)"
scripts/setup.sh
say "build (scripts/build.sh)"
scripts/build.sh
export PATH="$HOME/.cargo/bin:$PATH"
say "default image: Debian trixie riscv64 (scripts/debian-rootfs.sh; built once, ~2 minutes)"
image=$(scripts/debian-rootfs.sh | tail -1)

script='. /etc/os-release; echo "$PRETTY_NAME on $(uname -m), $(ls /usr/bin | wc -l) programs in /usr/bin"
echo "a pipeline:   $(seq 1 100000 | grep -c 7) of 1..100000 contain a 7"
python3 -c "import sys, platform; print(\"python\", sys.version.split()[0], platform.machine(), sum(range(10**6)))"
node -e "console.log(\"node\", process.version, process.arch, [3, 1, 2].sort().join(\",\"))"'

if [ -t 0 ] && [ -t 1 ] && [ "${1:-}" != --script ]; then
  say "an interactive shell in the Debian image (exit or Ctrl-D to leave; try python3, node, top)"
  exec build/friscy run -it "$image" bash -l
fi
say "friscy run (the native host) on the Debian image"
build/friscy run "$image" bash -c "$script"
sealed=build/debian.wasm
if [ ! -e "$sealed" ] || [ "$image" -nt "$sealed" ] || [ build/friscy-pack -nt "$sealed" ]; then
  say "friscy-pack: the Debian image as one sealed component, $sealed (once)"
  build/friscy-pack "$image" --compose -o "$sealed"
fi
say "wasmtime run $sealed (the plain wasmtime CLI; its first run compiles, ~1 minute)"
wasmtime run "$sealed" -- bash -c "$script"
say "done. Next: build/friscy run -it $image bash, or see README.md"
