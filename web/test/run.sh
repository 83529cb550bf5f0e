#!/usr/bin/env bash
# The browser and Node tests of friscy-pack --web sites: builds a site from the bundled
# image (build/rootfs.tar) and one from the Alpine fixture with build/friscy-pack, then
# runs web/test/*.test.mjs with node's test runner (Chromium through playwright-core for
# the browser ones, `friscy serve` as the server, build/friscy-proxy for the network).
#
#   web/test/run.sh              (after scripts/build.sh; scripts/test.sh runs it)
#
# FRISCY_ALPINE_TAR names the Alpine minirootfs (default ../shared/fixtures/...).
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v node >/dev/null; then
  echo "web tests: SKIPPED: no node (scripts/setup.sh installs it)" >&2
  exit 0
fi
if [ ! -d build/web ]; then
  echo "web tests: SKIPPED: no build/web (scripts/build.sh needs node and jco)" >&2
  exit 0
fi
work=$(mktemp -d /tmp/friscy-web-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
build/friscy-pack build/rootfs.tar --web -q -o "$work/bundled"
export FRISCY_SITE_BUNDLED="$work/bundled"
alpine="${FRISCY_ALPINE_TAR:-../shared/fixtures/alpine-minirootfs-3.20.3-riscv64.tar.gz}"
if [ -e "$alpine" ]; then
  build/friscy-pack "$alpine" --web -q -o "$work/alpine"
  export FRISCY_SITE_ALPINE="$work/alpine"
else
  echo "web tests: SKIPPED the Alpine cases: no $alpine (set FRISCY_ALPINE_TAR)" >&2
fi
export FRISCY_BIN="$PWD/build/friscy" FRISCY_PROXY="$PWD/build/friscy-proxy"
# The Node CLI's decompressed images go to a cache of their own, removed afterwards.
export XDG_CACHE_HOME="$work/cache"
node --test --test-concurrency=1 web/test/*.test.mjs
