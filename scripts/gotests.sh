#!/usr/bin/env bash
# Runs packages of Go's standard library tests inside friscy: another peer test suite
# (it found a kernel trap on Go's netlink request, SO_LINGER 0, the address of an unbound
# AF_UNIX sender, MSG_CMSG_CLOEXEC in msg_flags, and CPU-time timers and ITIMER_PROF's
# target thread, which Go's CPU profiler needs).
#
#   scripts/gotests.sh                    # the default packages below
#   scripts/gotests.sh os net             # these
#   FRISCY_GOTESTS_ARGS="-test.run=TestCPUProfile" scripts/gotests.sh runtime/pprof
#
# Needs build/friscy (scripts/build.sh), root for the Debian fixture
# (scripts/debian-rootfs.sh) and the host's Go toolchain (Debian's golang-go, installed
# when missing). Each package's tests are cross-compiled once for linux/riscv64
# (`go test -c`, cached in ~/.cache/friscy/gotests by Go version) and run with
# `-test.short` in the package's source directory, without --net. The tests that build
# programs find a riscv64 `go` with compile, link and asm (cross-built too) as the
# image's GOROOT, so `go build` runs inside the guest. One line per package: exit status
# (0 passed), time, and the names of failing tests; logs in $FRISCY_GOTESTS_LOGS
# (default /tmp/friscy-gotests). Not part of scripts/test.sh: the default set takes about
# 25 minutes.
#
# Failures that are the environment, not friscy: tests that need gcc (cgo), `go tool nm`
# or `pprof`, zoneinfo.zip (package time), raw IP sockets (EPERM: the loopback has none).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/friscy ] || { echo "gotests: no build/friscy (run scripts/build.sh)" >&2; exit 1; }
if ! command -v go >/dev/null; then
  echo "gotests: installing golang-go" >&2
  apt-get install -y -q golang-go >/dev/null
fi
image=$(scripts/debian-rootfs.sh)
goroot_host=$(go env GOROOT)
src=$(readlink -f "$goroot_host/src")
share=$(dirname "$src")
ver=$(go env GOVERSION)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/friscy/gotests/$ver"
logs="${FRISCY_GOTESTS_LOGS:-/tmp/friscy-gotests}"
mkdir -p "$cache/bin" "$cache/goroot/bin" "$cache/goroot/pkg/tool/linux_riscv64" "$logs"
export GOOS=linux GOARCH=riscv64 CGO_ENABLED=0

# A GOROOT for the guest at the host's path (the test binaries have it built in): the
# riscv64 go command and tools, and the sources through the host's own symlinks.
root="$cache/goroot"
cp "$goroot_host/VERSION" "$root/"
for l in api misc src test; do
  ln -sfn "$share/$l" "$root/$l"
done
[ -x "$root/bin/go" ] || (cd "$src" && go build -o "$root/bin/go" cmd/go)
for t in compile link asm buildid; do
  [ -x "$root/pkg/tool/linux_riscv64/$t" ] || (cd "$src" && go build -o "$root/pkg/tool/linux_riscv64/$t" "cmd/$t")
done

pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
  pkgs=(os os/exec os/signal os/user syscall net internal/poll runtime/pprof runtime/debug
    sync sync/atomic context io/fs path/filepath bufio strconv math math/big regexp sort
    encoding/json compress/flate archive/tar mime/multipart crypto/sha256 crypto/aes)
fi
failed=0
for p in "${pkgs[@]}"; do
  bin="$cache/bin/$(echo "$p" | tr / _).test"
  [ -x "$bin" ] || go test -c -o "$bin" "$p"
  log="$logs/$(echo "$p" | tr / _).log"
  start=$SECONDS
  rc=0
  # shellcheck disable=SC2086 # FRISCY_GOTESTS_ARGS is a list of test flags
  timeout 1800 build/friscy run --rootfs "$image" \
    -v "$share:$share:ro" -v "$root:$goroot_host:ro" -v "$cache/bin:/gotests:ro" \
    -e "PATH=$goroot_host/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    -w "$share/src/$p" -- "/gotests/$(basename "$bin")" -test.short ${FRISCY_GOTESTS_ARGS:-} \
    >"$log" 2>&1 || rc=$?
  [ "$rc" = 0 ] || failed=$((failed + 1))
  printf '%-18s exit %-3s %4ss  %s\n' "$p" "$rc" $((SECONDS - start)) \
    "$(grep -oE -- '^--- FAIL: [^ ]+' "$log" | cut -d' ' -f3 | tr '\n' ' ')"
done
echo "gotests: ${#pkgs[@]} packages, $failed not passing; logs in $logs" >&2
[ "$failed" = 0 ]
