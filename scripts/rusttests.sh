#!/usr/bin/env bash
# Runs Rust crates' own test suites inside friscy: another peer test suite. `nix` tests
# most of the Linux syscall surface a Rust program reaches (sockets and their options,
# ancillary data, signals, ptys, credentials, timers, mmap); `tokio` its runtime (epoll,
# signals, child processes, timers, TCP/UDP/Unix sockets, files). They found IP_RECVERR's
# MSG_ERRQUEUE parking forever, recvmsg never reporting IP_PKTINFO, IP_TTL or timestamps,
# sendmsg refusing IP control messages, per-thread setfsuid, and socket(AF_PACKET)'s errno.
#
#   scripts/rusttests.sh                 # nix and tokio
#   scripts/rusttests.sh nix             # one crate
#   FRISCY_RUSTTESTS_ARGS="--exact sys::test_socket::test_recverr_v4" scripts/rusttests.sh nix
#
# Needs build/friscy (scripts/build.sh), root for the Debian fixture
# (scripts/debian-rootfs.sh), and Rust's riscv64gc-unknown-linux-gnu standard library
# (`rustup target add`, done when missing) with riscv64-linux-gnu-gcc as the linker.
# Each crate's published source is fetched from crates.io (the versions below), its
# tests built once, statically linked, under ~/.cache/friscy/rusttests, and each test
# binary runs with `--test-threads=1` inside `friscy run` on the Debian image (no --net),
# under `sh -c` so that the harness is not a session leader (a pty test that opens a
# slave would make it the leader's controlling terminal, and closing the master would
# hang it up, as on Linux). One line per test binary: passed, failed, and the names of
# failing tests; logs in $FRISCY_RUSTTESTS_LOGS (default /tmp/friscy-rusttests). Each
# binary gets FRISCY_RUSTTESTS_TIMEOUT seconds (default 300: some of tokio's debug-built
# stress tests take longer interpreted, and end as exit 124).
# Not part of scripts/test.sh: building the tests takes about 15 minutes on 2 cores.
#
# Failures that are friscy's known limits (docs/COMPATIBILITY.md): mount(2) (ENOSYS),
# raw and ICMP sockets, UDP GSO/GRO, TCP_MAXSEG's negotiated value, acct(2), AF_PACKET,
# ptrace, fanotify, kernel modules, AF_ALG.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/friscy ] || { echo "rusttests: no build/friscy (run scripts/build.sh)" >&2; exit 1; }
export PATH="$HOME/.cargo/bin:$PATH"
target=riscv64gc-unknown-linux-gnu
rustup target list --installed | grep -qx $target || rustup target add $target
image=$(scripts/debian-rootfs.sh)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/friscy/rusttests"
logs="${FRISCY_RUSTTESTS_LOGS:-/tmp/friscy-rusttests}"
mkdir -p "$cache/bin" "$logs"

# crate, version, features.
declare -A version=([nix]=0.29.0 [tokio]=1.54.1)
declare -A features=(
  [nix]="--all-features"
  [tokio]="--features full,test-util"
)

# The crate's published source, through cargo's own download and cache.
fetch() {
  local crate=$1 ver=$2 dl="$cache/fetch-$1"
  if [ ! -d "$cache/src/$crate-$ver" ]; then
    mkdir -p "$dl/src" "$cache/src"
    printf '[package]\nname = "fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\n%s = "=%s"\n' \
      "$crate" "$ver" >"$dl/Cargo.toml"
    : >"$dl/src/lib.rs"
    (cd "$dl" && cargo fetch -q)
    cp -r "$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$crate-$ver" | head -1)" "$cache/src/"
    local s="$cache/src/$crate-$ver"
    mkdir -p "$s/.cargo"
    # Static binaries (the image's glibc is not needed), and the crate's own
    # #![deny(warnings)] must not fail on a newer compiler.
    printf '[target.%s]\nlinker = "riscv64-linux-gnu-gcc"\nrustflags = ["--cap-lints", "warn", "-C", "target-feature=+crt-static"]\n' \
      $target >"$s/.cargo/config.toml"
    # Dev-dependencies that depend on the crate itself (tokio-test on tokio) must use
    # this copy, not another from the registry.
    printf '\n[patch.crates-io]\n%s = { path = "." }\n' "$crate" >>"$s/Cargo.toml"
    rm -f "$s/Cargo.lock"
  fi
}

crates=("$@")
[ ${#crates[@]} -gt 0 ] || crates=(nix tokio)
failed=0
for crate in "${crates[@]}"; do
  ver=${version[$crate]:?"rusttests: unknown crate $crate (known: ${!version[*]})"}
  fetch "$crate" "$ver"
  src="$cache/src/$crate-$ver"
  bins="$cache/bin/$crate"
  if [ ! -f "$bins/.built" ]; then
    echo "rusttests: building $crate $ver's tests for $target (minutes, once)" >&2
    rm -rf "$bins" && mkdir -p "$bins"
    # shellcheck disable=SC2086 # the features are a list of flags
    (cd "$src" && CARGO_TARGET_DIR="$cache/target" cargo test --no-fail-fast --target $target \
      ${features[$crate]} --tests --no-run --message-format=json 2>"$logs/$crate-build.log") |
      python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])' >"$bins/list" || true
    while read -r exe; do cp "$exe" "$bins/"; done <"$bins/list"
    touch "$bins/.built"
  fi
  for exe in "$bins"/*; do
    [ -x "$exe" ] || continue
    name=$(basename "$exe" | sed 's/-[0-9a-f]*$//')
    log="$logs/$crate-$name.log"
    start=$SECONDS
    rc=0
    # shellcheck disable=SC2086 # FRISCY_RUSTTESTS_ARGS is a list of test flags
    timeout "${FRISCY_RUSTTESTS_TIMEOUT:-300}" build/friscy run --rootfs "$image" -v "$bins:/rt:ro" -v "$src:/src:ro" -w /src \
      -- /bin/sh -c "/rt/$(basename "$exe") --test-threads=1 ${FRISCY_RUSTTESTS_ARGS:-}; exit \$?" \
      >"$log" 2>&1 || rc=$?
    [ "$rc" = 0 ] || failed=$((failed + 1))
    printf '%-6s %-28s exit %-3s %4ss %s  %s\n' "$crate" "$name" "$rc" $((SECONDS - start)) \
      "$(grep -oE '^test result: .*' "$log" | tail -1 | cut -d';' -f1-2 | sed 's/test result: //')" \
      "$(awk '/^failures:$/{n++} n==2 && /^    /{print $1}' "$log" | tr '\n' ' ')"
  done
done
echo "rusttests: $failed test binaries not passing; logs in $logs" >&2
[ "$failed" = 0 ]
