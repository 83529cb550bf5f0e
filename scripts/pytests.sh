#!/usr/bin/env bash
# Runs modules of CPython's own test suite (Debian's libpython3.13-testsuite) inside
# friscy: a peer test suite that finds what the differential cases miss (it found
# epoll's EPOLLET, F_SETPIPE_SZ, execveat, the CPU-time clocks and itimers, /proc/self/fd
# positions under close_fds, IPV6_V6ONLY, and shared mappings of sparse files).
#
#   scripts/pytests.sh                      # the default modules below
#   scripts/pytests.sh test_os test_epoll   # these
#   FRISCY_PYTESTS_ARGS="-u all" scripts/pytests.sh test_socketserver   # more resources
#
# Needs build/friscy (scripts/build.sh) and root for the image: the Debian fixture plus the
# test suite, built once by scripts/debian-rootfs.sh (FRISCY_DEBIAN_EXTRA) and cached.
# Each module runs as `python3 -m test -v MODULE` (no --net: the guest's own loopback);
# its log goes to $FRISCY_PYTESTS_LOGS (default /tmp/friscy-pytests) and one line per
# module is printed: the exit status (0 passed, 2 failures, 4 nothing ran), the time and
# regrtest's totals. Not part of scripts/test.sh: the default set takes about 15 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/friscy ] || { echo "pytests: no build/friscy (run scripts/build.sh)" >&2; exit 1; }
image=$(FRISCY_DEBIAN_EXTRA="libpython3.13-testsuite" scripts/debian-rootfs.sh)
logs="${FRISCY_PYTESTS_LOGS:-/tmp/friscy-pytests}"
mkdir -p "$logs"
modules=("$@")
if [ ${#modules[@]} -eq 0 ]; then
  modules=(test_os test_posix test_signal test_select test_selectors test_poll test_epoll
    test_fcntl test_pty test_termios test_tty test_resource test_mmap test_fileio test_stat
    test_tempfile test_shutil test_pwd test_grp test_wait3 test_wait4 test_fork1
    test_threadsignals test_subprocess test_threading test_time test_httpservers
    test_urllib2_localnet test_gzip test_zlib test_sqlite3 test_glob test_logging test_sched
    test_mailbox test_uuid test_platform test_popen test_file test_posixpath test_getpass
    test_asyncio.test_events test_asyncio.test_subprocess test_asyncio.test_unix_events)
fi
failed=0
for m in "${modules[@]}"; do
  start=$SECONDS
  rc=0
  # shellcheck disable=SC2086 # FRISCY_PYTESTS_ARGS is a list of regrtest options
  timeout 1800 build/friscy run --rootfs "$image" -- python3 -m test -v ${FRISCY_PYTESTS_ARGS:-} "$m" \
    >"$logs/$m.log" 2>&1 || rc=$?
  [ "$rc" = 0 ] || failed=$((failed + 1))
  printf '%-34s exit %-3s %4ss  %s\n' "$m" "$rc" $((SECONDS - start)) \
    "$(grep -E '^Total tests' "$logs/$m.log" | tail -1)"
done
echo "pytests: ${#modules[@]} modules, $failed not passing; logs in $logs" >&2
[ "$failed" = 0 ]
