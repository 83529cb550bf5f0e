#!/usr/bin/env bash
# The reference for friscy's differential tests: runs a command in a riscv64 rootfs the
# way Linux does, with qemu-user under binfmt_misc inside a chroot, so that every exec'd
# child (sh -c, subprocess, #! scripts) is emulated too and paths resolve inside the
# image. (`qemu-riscv64 -L ROOTFS` is no reference: it runs the host's files for paths the
# image lacks and does not follow exec'd children into the image.)
#
#   scripts/reference.sh ROOTFS.tar[.gz] -- CMD [ARGS...]   # CMD's stdout, stderr, status
#   scripts/reference.sh --check ROOTFS.tar[.gz]            # set up only; say why not
#   scripts/reference.sh --binfmt                           # only the machine set-up (for
#                                 # plain qemu-riscv64 runs whose children exec riscv64 files)
#
# Set-up (as root; done once, each step only if missing): apt-get install
# qemu-user-static, mount binfmt_misc, register qemu-riscv64-static with flag F (the
# kernel opens the interpreter at registration, so it works inside the chroot), extract
# the tar once into $HOME/.cache/friscy/chroot/ (keyed by the tar's path, size and mtime).
#
# Each run starts from the pristine image: a fresh overlay (or a copy) over the extracted
# tree, in its own mount, pid and UTS namespace (hostname "friscy", as friscy's uname),
# with /proc and the host's /dev mounted, stdin as given, and only the environment that
# `friscy run` gives a guest: PATH (friscy's default), HOME=/root and HOSTNAME=friscy
# (docker run's variables), plus FRISCY_REF_ENV
# (newline-separated KEY=VALUE) if set. A run is killed after $FRISCY_REFERENCE_TIMEOUT
# seconds (default 60; status 124, like timeout(1)).
#
# Exit status: CMD's; 120 when the reference cannot be set up here (the reason is on
# stderr, starting "reference: UNAVAILABLE:").
set -euo pipefail

CACHE="${FRISCY_CACHE:-$HOME/.cache/friscy}/chroot"
GUEST_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
TIMEOUT="${FRISCY_REFERENCE_TIMEOUT:-60}"
BINFMT=/proc/sys/fs/binfmt_misc
QEMU=/usr/bin/qemu-riscv64-static
# qemu's binfmt entry for riscv64 ELF (as in qemu's scripts/qemu-binfmt-conf.sh).
MAGIC='\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00'
MASK='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'

say() { printf 'reference: %s\n' "$*" >&2; }
unavailable() { say "UNAVAILABLE: $*"; exit 120; }

usage() { sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//;/^set -e/d' >&2; exit 2; }

check=0 binfmt_only=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
if [ "${1:-}" = "--binfmt" ]; then binfmt_only=1; shift; fi
if [ $binfmt_only = 0 ]; then
  [ $# -ge 1 ] || usage
  tar_file=$1; shift
  if [ $check = 0 ]; then
    [ "${1:-}" = "--" ] || usage
    shift
    [ $# -ge 1 ] || usage
  fi
  [ -f "$tar_file" ] || unavailable "no rootfs tar at $tar_file"
fi

# --- one-time set-up of the machine.
[ "$(id -u)" = 0 ] || unavailable "not root (chroot, binfmt_misc and mounts need root)"
for t in chroot unshare mount flock timeout; do
  command -v $t >/dev/null || unavailable "no $t on this machine"
done
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if [ ! -x $QEMU ]; then
  say "installing qemu-user-static"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends qemu-user-static >/dev/null; } 2>&1 | sed 's/^/reference: apt: /' >&2
  [ -x $QEMU ] || unavailable "apt-get install qemu-user-static did not provide $QEMU"
fi
if [ ! -e $BINFMT/register ]; then
  say "mounting binfmt_misc"
  mount -t binfmt_misc binfmt_misc $BINFMT 2>/dev/null \
    || unavailable "cannot mount binfmt_misc on $BINFMT (no kernel support, or a container without CAP_SYS_ADMIN)"
fi
entry=$BINFMT/qemu-riscv64
if [ -e $entry ] && ! grep -q '^flags:.*F' $entry; then
  # Registered without F (e.g. by binfmt-support with an interpreter path that does not
  # exist inside the chroot): replace it.
  say "re-registering qemu-riscv64 with flag F (was: $(grep '^flags' $entry))"
  echo -1 >$entry || unavailable "cannot remove the existing qemu-riscv64 binfmt entry"
fi
if [ ! -e $entry ]; then
  say "registering $QEMU for riscv64 ELF in binfmt_misc (flag F)"
  printf ':qemu-riscv64:M::%s:%s:%s:F' "$MAGIC" "$MASK" "$QEMU" >$BINFMT/register 2>/dev/null \
    || unavailable "cannot register qemu-riscv64 in $BINFMT/register"
fi
grep -q '^enabled' $entry || unavailable "binfmt entry qemu-riscv64 is disabled"
grep -q '^enabled' $BINFMT/status || unavailable "binfmt_misc is disabled ($BINFMT/status)"
if [ $binfmt_only = 1 ]; then
  say "ready: qemu-riscv64-static via binfmt_misc (F)"
  exit 0
fi

# --- the extracted image, once per tar.
tree_key() { printf '%s %s\n' "$1" "$(stat -c '%s %Y' "$1")" | sha256sum | cut -c1-16; }
# Trees of tars that are gone or changed since go first.
for done in "$CACHE"/*/.extracted; do
  [ -e "$done" ] || continue
  src=$(cat "$done")
  if [ ! -f "$src" ] || [ "$(tree_key "$src")" != "$(basename "$(dirname "$done")")" ]; then
    say "removing $(dirname "$done") (extracted from $src, which is gone or changed)"
    rm -rf "$(dirname "$done")"
  fi
done
real=$(realpath "$tar_file")
key=$(tree_key "$real")
base="$CACHE/$key"
if [ ! -e "$base/.extracted" ]; then
  say "extracting $real into $base/root (once)"
  rm -rf "$base"
  mkdir -p "$base/root"
  tar --numeric-owner -xpf "$real" -C "$base/root" || unavailable "cannot extract $real"
  mkdir -p "$base/root/proc" "$base/root/dev" "$base/root/tmp"
  echo "$real" >"$base/.extracted"
fi
if [ $check = 1 ]; then
  # Prove that a riscv64 program runs in it, exec'd child included.
  if ! out=$(unshare --mount --fork chroot "$base/root" /bin/sh -c '/bin/sh -c "echo ok"' 2>&1) \
    || [ "$out" != ok ]; then
    unavailable "a riscv64 /bin/sh does not run in the chroot: $out"
  fi
  say "ready: $real extracted at $base/root; qemu-riscv64-static via binfmt_misc (F)"
  exit 0
fi
flock -u 9
exec 9>&-

# --- one run from a pristine tree.
run=$(mktemp -d "$CACHE/run.XXXXXX")
trap 'umount -l "$run/m" 2>/dev/null || true; rm -rf "$run"' EXIT
mkdir -p "$run/u" "$run/w" "$run/m"
env_args=(PATH=$GUEST_PATH HOME=/root HOSTNAME=friscy)
if [ -n "${FRISCY_REF_ENV:-}" ]; then
  while IFS= read -r kv; do [ -n "$kv" ] && env_args+=("$kv"); done <<<"$FRISCY_REF_ENV"
fi
set +e
# Inside the new namespaces: mount the tree, /proc and /dev, then run the command
# (not exec'd, so it is not pid 1 and gets ordinary signal semantics).
timeout -k 5 "$TIMEOUT" unshare --mount --uts --pid --fork --kill-child \
  /bin/bash -c '
    set -e
    base=$1 run=$2; shift 2
    if ! mount -t overlay overlay -o "lowerdir=$base,upperdir=$run/u,workdir=$run/w" "$run/m" 2>/dev/null; then
      cp -a "$base/." "$run/m/"
    fi
    mount -t proc proc "$run/m/proc"
    mount --rbind /dev "$run/m/dev"
    hostname friscy
    set +e
    chroot "$run/m" /usr/bin/env -i "$@"
  ' reference "$base/root" "$run" "${env_args[@]}" "$@"
status=$?
exit $status
