#!/usr/bin/env bash
# Builds everything into build/ (inside the clone, git-ignored; cargo's own target dir
# stays in $CARGO_TARGET_DIR outside it):
#
#   build/guest/*            riscv64 test programs from tests/guest/ (static, glibc)
#   build/rootfs.tar         the default image: those programs at /
#   build/components/*.wasm  exec, vfs, net, kernel, kernel-fused, rootfs components
#   build/friscy-open.wasm   kernel+exec+vfs+net composed; imports friscy:vfs/rootfs
#                            (and its image config) and friscy:tty/console
#   build/friscy-relay-open.wasm  the same with net-relay (sockets through friscy-proxy);
#                            also imports friscy:net/transport (`friscy run --proxy`)
#   build/friscy-dir-open.wasm  the same with vfs-tree: the root filesystem is a host
#                            directory served through friscy:vfs/tree (`friscy run DIR`,
#                            the containerd shim)
#   build/friscy.wasm        sealed: the open one + build/rootfs.tar + console-wasi;
#                            imports only wasi:*
#   build/friscy-fused-open.wasm, build/friscy-fused.wasm   the same, fused build
#   build/rv2wasm, build/components/exec-aot.wasm, build/friscy-aot-open.wasm,
#   build/friscy-aot.wasm    the AOT backend: exec with build/guest/* (and Alpine's
#                            busybox and musl, when the fixture is there) translated
#   build/web/               the browser bundle friscy-pack --web writes into a site: the
#                            kernel-browser component transpiled by jco, web/*, xterm.js
#   build/friscy             the native host (next to friscy-open.wasm, where it looks)
#   build/friscy-pack        the image packer, with the components above embedded
#   build/friscy-proxy       the WebSocket relay for browser (and --proxy) guests
#   build/containerd-shim-friscy-v1  the containerd runtime (io.containerd.friscy.v1), with
#                            friscy-dir-open.wasm embedded
#
# Usage: scripts/build.sh [--no-host]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/friscy/target}"
B=build
mkdir -p $B/guest $B/components $B/rootfs
step() { printf '\033[1mbuild [%dm%02ds]:\033[0m %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }

step "guest programs (riscv64-linux-gnu-gcc -static)"
for src in tests/guest/*.c; do
  out=$B/guest/$(basename "$src" .c)
  if [ ! -e "$out" ] || [ "$src" -nt "$out" ]; then
    # A "// cflags: ..." line replaces -static (programs that test the ELF loader).
    flags=$(sed -n 's|^// cflags: ||p' "$src")
    # shellcheck disable=SC2086
    riscv64-linux-gnu-gcc -O2 ${flags:--static} -o "$out" "$src"
  fi
done

step "default image build/rootfs.tar"
rm -rf $B/rootfs && mkdir -p $B/rootfs/bin $B/rootfs/tmp $B/rootfs/etc
cp $B/guest/* $B/rootfs/bin/
ln -sf bin/hello $B/rootfs/hello
echo "friscy" > $B/rootfs/etc/hostname
# Things that must fail cleanly: a foreign ELF (the host's own `true`).
cp /usr/bin/true $B/rootfs/bin/x86_64_elf
tar --owner=0 --group=0 --numeric-owner --sort=name --mtime=@0 -C $B/rootfs -cf $B/rootfs.tar .

component() { # package features output-name [env]
  local pkg=$1 features=$2 name=$3
  step "component $name"
  cargo build --quiet --target wasm32-wasip2 --release -p "$pkg" ${features:+--features "$features"}
  cp "$CARGO_TARGET_DIR/wasm32-wasip2/release/${pkg//-/_}.wasm" "$B/components/$name.wasm"
}
component friscy-exec component exec
step "component exec-debug (a second exec build, for the swap test)"
cargo build --quiet --target wasm32-wasip2 -p friscy-exec --features component
cp "$CARGO_TARGET_DIR/wasm32-wasip2/debug/friscy_exec.wasm" "$B/components/exec-debug.wasm"
component friscy-vfs component vfs
component friscy-vfs tree-component vfs-tree
component friscy-net component net
component friscy-net relay-component net-relay
component friscy-kernel component kernel
component friscy-kernel fused kernel-fused
component friscy-kernel browser kernel-browser
FRISCY_ROOTFS=$PWD/$B/rootfs.tar component friscy-rootfs "" rootfs
component friscy-console-wasi component console-wasi

step "compose (wac)"
C=$B/components
wac compose -o $B/friscy-open.wasm \
  --dep friscy:exec=$C/exec.wasm --dep friscy:vfs=$C/vfs.wasm --dep friscy:net=$C/net.wasm \
  --dep friscy:kernel=$C/kernel.wasm \
  compose/friscy-open.wac
# The browser's network: net-relay in net's place. The transport it imports stays an
# import of the whole, for a page's JavaScript or `friscy run --proxy` to provide.
wac compose -o $B/friscy-relay-open.wasm \
  --dep friscy:exec=$C/exec.wasm --dep friscy:vfs=$C/vfs.wasm --dep friscy:net=$C/net-relay.wasm \
  --dep friscy:kernel=$C/kernel.wasm \
  compose/friscy-open.wac
# A host directory as the root filesystem: vfs-tree in vfs's place. Its friscy:vfs/tree
# import stays an import of the whole, for the native host or the containerd shim.
wac compose -o $B/friscy-dir-open.wasm \
  --dep friscy:exec=$C/exec.wasm --dep friscy:vfs=$C/vfs-tree.wasm --dep friscy:net=$C/net.wasm \
  --dep friscy:kernel=$C/kernel.wasm \
  compose/friscy-open.wac
wac compose -o $B/friscy.wasm --dep friscy:console=$C/console-wasi.wasm \
  --dep friscy:open=$B/friscy-open.wasm --dep friscy:rootfs=$C/rootfs.wasm compose/friscy-sealed.wac

# The AOT backend: rv2wasm translates the test programs (and Alpine's busybox and musl
# loader when the fixture is there) into exec-aot.wasm, which swaps in for exec.wasm.
step "rv2wasm: components/exec-aot.wasm, friscy-aot-open.wasm, friscy-aot.wasm"
cargo build --quiet --release -p friscy-aot
cp "$CARGO_TARGET_DIR/release/rv2wasm" $B/rv2wasm.new && mv -f $B/rv2wasm.new $B/rv2wasm
AOT_IN=$B/aot-inputs
rm -rf $AOT_IN && mkdir -p $AOT_IN
ALPINE="${FRISCY_ALPINE_TAR:-../shared/fixtures/alpine-minirootfs-3.20.3-riscv64.tar.gz}"
if [ -e "$ALPINE" ]; then
  tar -xzf "$ALPINE" -C $AOT_IN ./bin/busybox ./lib/ld-musl-riscv64.so.1
fi
# Each static glibc program carries its own libc: a few of them (what tests/aot.rs runs)
# keep the component quick to compile; the others run interpreted, as untranslated code
# does.
$B/rv2wasm $B/guest/{hello,code_rewrite,segfault,exit_status,loops} $(find $AOT_IN -type f) \
  --exec $C/exec.wasm -o $C/exec-aot.wasm
wac compose -o $B/friscy-aot-open.wasm \
  --dep friscy:exec=$C/exec-aot.wasm --dep friscy:vfs=$C/vfs.wasm --dep friscy:net=$C/net.wasm \
  --dep friscy:kernel=$C/kernel.wasm \
  compose/friscy-open.wac
wac compose -o $B/friscy-aot.wasm --dep friscy:console=$C/console-wasi.wasm \
  --dep friscy:open=$B/friscy-aot-open.wasm --dep friscy:rootfs=$C/rootfs.wasm compose/friscy-sealed.wac

cp $C/kernel-fused.wasm $B/friscy-fused-open.wasm
wac compose -o $B/friscy-fused.wasm --dep friscy:console=$C/console-wasi.wasm \
  --dep friscy:open=$B/friscy-fused-open.wasm --dep friscy:rootfs=$C/rootfs.wasm compose/friscy-sealed.wac

# The browser bundle: transpiled here, once, so friscy-pack --web needs no node or jco.
WEBTOOLS="${FRISCY_CACHE:-$HOME/.cache/friscy}/web-tools/node_modules"
if command -v node >/dev/null && [ -x "$WEBTOOLS/.bin/jco" ]; then
  step "web bundle build/web (jco transpile of kernel-browser + web/ + xterm.js)"
  rm -rf $B/web.new && mkdir -p $B/web.new/kernel $B/web.new/vendor
  "$WEBTOOLS/.bin/jco" transpile $C/kernel-browser.wasm -o $B/web.new/kernel --name friscy \
    --instantiation sync --no-typescript --no-nodejs-compat --minify --quiet
  rm -rf $B/web.new/kernel/interfaces $B/web.new/kernel/*.d.ts
  cp web/index.html web/*.js web/*.mjs $B/web.new/
  cp "$WEBTOOLS/@xterm/xterm/lib/xterm.mjs" "$WEBTOOLS/@xterm/xterm/css/xterm.css" \
    "$WEBTOOLS/@xterm/addon-fit/lib/addon-fit.mjs" $B/web.new/vendor/
  rm -rf $B/web && mv $B/web.new $B/web
else
  step "web bundle SKIPPED: no node or jco (scripts/setup.sh installs them); friscy-pack --web will refuse"
fi

step "friscy-pack (embeds build/components/{kernel,vfs,exec,net,console-wasi}.wasm and build/web)"
cargo build --quiet --release -p friscy-pack
cp "$CARGO_TARGET_DIR/release/friscy-pack" $B/friscy-pack.new && mv -f $B/friscy-pack.new $B/friscy-pack

step "friscy-proxy"
cargo build --quiet --release -p friscy-proxy
cp "$CARGO_TARGET_DIR/release/friscy-proxy" $B/friscy-proxy.new && mv -f $B/friscy-proxy.new $B/friscy-proxy

step "containerd shim (embeds build/friscy-dir-open.wasm)"
cargo build --quiet --release -p friscy-shim
cp "$CARGO_TARGET_DIR/release/containerd-shim-friscy-v1" $B/containerd-shim-friscy-v1.new
mv -f $B/containerd-shim-friscy-v1.new $B/containerd-shim-friscy-v1

if [ "${1:-}" != "--no-host" ]; then
  step "native host (friscy)"
  cargo build --quiet --release -p friscy-host
  # Copy then rename: a running build/friscy (a test in progress) keeps its old inode.
  cp "$CARGO_TARGET_DIR/release/friscy" $B/friscy.new && mv -f $B/friscy.new $B/friscy
fi
step "done: $(ls $B/*.wasm | tr '\n' ' ')"
