#!/usr/bin/env bash
# Builds the Debian trixie riscv64 (glibc) rootfs fixture that the differential tests run
# (tests/reference.rs), as an uncompressed tar, and prints its path on stdout.
#
#   scripts/debian-rootfs.sh            # build if missing, print the path
#   scripts/debian-rootfs.sh --force    # rebuild even if cached
#   FRISCY_DEBIAN_EXTRA="libpython3.13-testsuite" scripts/debian-rootfs.sh
#                                       # an image with more packages (scripts/pytests.sh)
#
# The tar is cached under $HOME/.cache/friscy/fixtures/ (or $FRISCY_CACHE/fixtures/),
# keyed by a hash of the package list and of the recipe version below, so a second run
# takes milliseconds and editing the list rebuilds it. debian-trixie-riscv64.tar in that
# directory is a symlink to the current build.
#
# How: `debootstrap --foreign` downloads and unpacks the minbase set plus $PACKAGES (no
# riscv64 code runs, so no emulator is needed), then every downloaded .deb is unpacked with
# `dpkg -x` (the first stage unpacks only the essential ones), and the few things
# maintainer scripts would have made are made by hand: /etc/passwd, /etc/group and
# /etc/shadow from base-passwd, /bin/sh, awk, and the like, and the Python stdlib's .pyc
# files (python3.13's postinst runs py3compile; without them every `import json` compiles
# from source, 10 s under an interpreter), made by the image's own python3 under
# qemu-riscv64-static -L (installed if missing). Needs root (debootstrap, and files owned
# by root in the tar) and Debian's package mirror.
set -euo pipefail

SUITE=trixie
MIRROR="${FRISCY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# What the tests need beyond minbase (bash, coreutils, dash, grep, sed, findutils, tar,
# gzip, diffutils, mawk, util-linux are in minbase already). nodejs: V8 is the hardest
# guest there is (address-space reservations, JIT code, threads). nginx: the most pulled
# server image's program (master and workers, epoll edge-triggered, SIGIO channels,
# IPV6_V6ONLY listeners). redis: a server that forks to save its data set (BGSAVE).
PACKAGES="python3 sqlite3 procps cpio nodejs nginx redis-server redis-tools"
# More packages for an image of one's own (a separate cache entry; never the tests' image).
EXTRA="${FRISCY_DEBIAN_EXTRA:-}"
PACKAGES="$PACKAGES${EXTRA:+ $EXTRA}"
# Bump when the steps below change what ends up in the tar.
RECIPE=2

CACHE="${FRISCY_CACHE:-$HOME/.cache/friscy}/fixtures"
say() { printf 'debian-rootfs: %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

key=$(printf '%s\n' "$SUITE" "$PACKAGES" "$RECIPE" | sha256sum | cut -c1-12)
out="$CACHE/debian-$SUITE-riscv64-$key.tar"
link="$CACHE/debian-$SUITE-riscv64.tar"

if [ -s "$out" ] && [ "${1:-}" != "--force" ]; then
  [ -n "$EXTRA" ] || ln -sfn "$(basename "$out")" "$link"
  say "cached: $out ($(du -h "$out" | cut -f1))"
  echo "$out"
  exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, root-owned files in the tar)"
if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap"
  apt-get update -qq || die "apt-get update"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null \
    || die "apt-get install debootstrap"
fi

start=$SECONDS
mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/.debian-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
dir="$work/root"

say "debootstrap --foreign $SUITE riscv64 minbase + ${PACKAGES// /,} from $MIRROR (downloads ~40 MB)"
if ! debootstrap --foreign --arch=riscv64 --variant=minbase --include="${PACKAGES// /,}" \
  "$SUITE" "$dir" "$MIRROR" >"$work/debootstrap.log" 2>&1; then
  tail -20 "$work/debootstrap.log" >&2
  die "debootstrap (log above); is $MIRROR reachable?"
fi
say "debootstrap done after $((SECONDS - start)) s"

debs=("$dir"/var/cache/apt/archives/*.deb)
[ -e "${debs[0]}" ] || die "debootstrap left no .deb files in var/cache/apt/archives"
say "unpacking ${#debs[@]} packages with dpkg -x"
for deb in "${debs[@]}"; do
  dpkg -x "$deb" "$dir" || die "dpkg -x $(basename "$deb")"
done
for p in $PACKAGES bash coreutils dash grep sed findutils tar gzip mawk base-passwd; do
  ls "$dir"/var/cache/apt/archives/"${p}"_*.deb >/dev/null 2>&1 || die "package $p was not downloaded"
done

say "configuring what maintainer scripts would have"
# base-passwd's postinst copies its masters.
cp "$dir/usr/share/base-passwd/passwd.master" "$dir/etc/passwd"
cp "$dir/usr/share/base-passwd/group.master" "$dir/etc/group"
chmod 644 "$dir/etc/passwd" "$dir/etc/group"
sed 's/^\([^:]*\):.*/\1:*:19000:0:99999:7:::/' "$dir/etc/passwd" >"$dir/etc/shadow"
sed 's/^\([^:]*\):.*/\1:*::/' "$dir/etc/group" >"$dir/etc/gshadow"
chmod 640 "$dir/etc/shadow" "$dir/etc/gshadow"
chgrp 42 "$dir/etc/shadow" "$dir/etc/gshadow" # shadow
# dash's postinst makes /bin/sh; mawk's the awk alternative.
[ -e "$dir/usr/bin/sh" ] || ln -s dash "$dir/usr/bin/sh"
[ -e "$dir/usr/bin/awk" ] || ln -s mawk "$dir/usr/bin/awk"
# python3's own links are shipped; make sure the interpreter is there.
[ -x "$dir/usr/bin/python3" ] || die "no /usr/bin/python3 after unpacking"
if ! command -v qemu-riscv64-static >/dev/null; then
  say "installing qemu-user-static (to byte-compile the Python stdlib)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null \
    || die "apt-get install qemu-user-static"
fi
say "byte-compiling the Python stdlib with the image's python3 (qemu-riscv64-static)"
py=$(readlink -f "$dir/usr/bin/python3")
py=${py#"$dir"}
qemu-riscv64-static -L "$dir" "$dir$py" -m compileall -q -s "$dir" -p / \
  "$dir/usr/lib/python3" "$dir/usr/lib/$(basename "$py")" >"$work/compileall.log" 2>&1 || {
  # The test suite ships files that must not compile (bad encodings, bad syntax).
  if [ -z "$EXTRA" ]; then
    tail -20 "$work/compileall.log" >&2
    die "python3 -m compileall (log above)"
  fi
}
[ -e "$dir/usr/lib/$(basename "$py")/json/__pycache__" ] || die "compileall wrote no .pyc files"
echo "friscy" >"$dir/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$dir/etc/hosts"
[ -e "$dir/etc/resolv.conf" ] || : >"$dir/etc/resolv.conf"
printf 'hosts: files dns\npasswd: files\ngroup: files\nshadow: files\n' >"$dir/etc/nsswitch.conf"
ln -sfn /usr/share/zoneinfo/Etc/UTC "$dir/etc/localtime"
echo "Etc/UTC" >"$dir/etc/timezone"
mkdir -p "$dir/tmp" "$dir/root" "$dir/proc" "$dir/sys" "$dir/dev"
chmod 1777 "$dir/tmp"
chmod 700 "$dir/root"

# Not part of the system: debootstrap's own files, the downloaded debs, docs.
rm -rf "$dir/debootstrap" "$dir"/var/cache/apt/archives/*.deb \
  "$dir"/usr/share/{doc,man,info,locale,lintian,linda} "$dir"/var/lib/apt/lists/*
for f in bash python3 sqlite3 ls sort stat date seq paste grep sed find tar gzip ps; do
  [ -e "$dir/usr/bin/$f" ] || die "/usr/bin/$f is missing from the rootfs"
done

say "writing the tar"
tar --numeric-owner --sort=name --exclude=./dev/* -C "$dir" -cf "$work/rootfs.tar" . \
  || die "tar"
mv "$work/rootfs.tar" "$out"
[ -n "$EXTRA" ] || ln -sfn "$(basename "$out")" "$link"
for old in "$CACHE/debian-$SUITE-riscv64-"*.tar; do
  [ "$old" = "$out" ] || { say "removing the previous build $old"; rm -f "$old"; }
done
say "built $out ($(du -h "$out" | cut -f1)) in $((SECONDS - start)) s"
echo "$out"
