#!/usr/bin/env bash
# Installs what friscy's build and tests need, and only what is missing, so a second run
# takes seconds. Tools go under $HOME/.cargo/bin, build caches under $HOME/.cache/friscy:
# nothing is written into the clone.
#
#   scripts/setup.sh            # everything (Debian packages need root or sudo)
#
# Versions are pinned: rustc 1.95 caps wasmtime at 48.0.8, and every component imports
# wasi:*@0.2.6 (what Rust's wasm32-wasip2 std imports).
set -euo pipefail

WASMTIME_VERSION=48.0.8
WAC_VERSION=0.12.0
WASM_TOOLS_VERSION=1.263.0
CACHE="${FRISCY_CACHE:-$HOME/.cache/friscy}"
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf 'setup [%dm%02ds]: %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }

# --- Debian packages: the riscv64 cross compiler (guest programs), qemu (the oracle), a
# registry server (friscy-pack's tests) and containerd (the shim's tests start their own).
need_apt=()
command -v riscv64-linux-gnu-gcc >/dev/null || need_apt+=(gcc-riscv64-linux-gnu libc6-dev-riscv64-cross binutils-riscv64-linux-gnu)
command -v qemu-riscv64 >/dev/null || need_apt+=(qemu-user)
command -v cc >/dev/null || need_apt+=(gcc)
command -v zstd >/dev/null || need_apt+=(zstd)
# A real terminal for the `friscy run -it` tests (tests/terminal.rs), and script(1).
command -v tmux >/dev/null || need_apt+=(tmux)
command -v script >/dev/null || need_apt+=(bsdutils)
# The CNCF distribution registry, which friscy-pack's registry tests start on 127.0.0.1.
[ -x /usr/bin/docker-registry ] || need_apt+=(docker-registry)
# containerd 1.6 and ctr, which tests/containerd.rs runs the shim under.
[ -x /usr/bin/containerd ] && [ -x /usr/bin/ctr ] || need_apt+=(containerd)
if ((${#need_apt[@]})); then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  say "installing Debian packages: ${need_apt[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# --- The browser: node (jco at build time, the Node CLI and the browser tests) and
# Debian's Chromium for the tests (never a downloaded browser).
need_web=()
command -v node >/dev/null || need_web+=(nodejs npm)
command -v chromium >/dev/null || need_web+=(chromium)
if ((${#need_web[@]})); then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  say "installing Debian packages: ${need_web[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_web[@]}" >/dev/null \
    || say "could not install ${need_web[*]}: the browser tests will be skipped"
fi
# npm packages, pinned, in the cache (not the clone): jco transpiles the browser kernel,
# xterm.js is the page's terminal, playwright-core drives Chromium in the tests.
WEBTOOLS="$CACHE/web-tools"
WEB_PACKAGES='{ "name": "friscy-web-tools", "private": true, "dependencies": {
  "@bytecodealliance/jco": "1.35.0", "@bytecodealliance/preview2-shim": "0.26.1",
  "@xterm/xterm": "6.0.0", "@xterm/addon-fit": "0.11.0", "playwright-core": "1.65.2" } }'
if command -v npm >/dev/null \
  && ! { [ -f "$WEBTOOLS/package.json" ] && [ "$(cat "$WEBTOOLS/package.json")" = "$WEB_PACKAGES" ] \
         && [ -x "$WEBTOOLS/node_modules/.bin/jco" ] && [ -d "$WEBTOOLS/node_modules/playwright-core" ]; }; then
  say "installing npm packages into $WEBTOOLS (jco, xterm.js, playwright-core)"
  mkdir -p "$WEBTOOLS"
  printf '%s' "$WEB_PACKAGES" > "$WEBTOOLS/package.json"
  (cd "$WEBTOOLS" && npm install --no-audit --no-fund --loglevel=error >/dev/null) \
    || say "npm install failed: no web bundle, the browser tests will be skipped"
fi

# --- Rust target for the components.
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  say "adding rustup target wasm32-wasip2"
  rustup target add wasm32-wasip2
fi

# cargo install with its build directory kept in the cache, so an interrupted install
# resumes instead of starting over.
cargo_install() { # crate version binary [cargo install flags...]
  local crate=$1 version=$2 bin=$3; shift 3
  if command -v "$bin" >/dev/null && "$bin" --version 2>/dev/null | grep -q "$version" \
     && { [ -z "${PROBE:-}" ] || $PROBE >/dev/null 2>&1; }; then
    return
  fi
  say "building $crate $version (cached in $CACHE/install; first time only)"
  cargo install --locked --quiet --target-dir "$CACHE/install/$crate" "$crate@$version" "$@"
}

# wasmtime CLI: only `run` and `compile` (friscy-pack --precompile) with Cranelift and the
# component model. The full default feature set took 33 minutes to build on a 2-core
# machine; this takes about a third. (An older install without `compile` is rebuilt.)
PROBE="wasmtime compile --help" cargo_install wasmtime-cli "$WASMTIME_VERSION" wasmtime \
  --force --no-default-features \
  --features run,compile,cranelift,component-model,cache,parallel-compilation,clap/default
cargo_install wasm-tools "$WASM_TOOLS_VERSION" wasm-tools \
  --no-default-features --features component,print,validate,parse
cargo_install wac-cli "$WAC_VERSION" wac --no-default-features --features wit

say "ready: $(wasmtime --version), $(wasm-tools --version), $(wac --version), node $(node --version 2>/dev/null || echo missing)"
