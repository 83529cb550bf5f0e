#!/usr/bin/env bash
# Network benchmarks (issue 7), all on loopback, each in the same run under friscy (the
# native host, `friscy run --net`), the Linux reference (qemu-riscv64-static in a chroot,
# scripts/reference.sh) and natively on the host:
#
#   - guest TCP throughput: 100 MiB from `head -c ... /dev/zero | nc` (Alpine busybox) to a
#     sink on the host, in MB/s;
#   - a guest HTTP server: Python's http.server (Debian) answering 200 sequential requests
#     from a client on the host, in requests per second.
#
#   bench/net.sh             # needs scripts/build.sh, the Alpine and Debian fixtures, root
set -euo pipefail
cd "$(dirname "$0")/.."
alpine_gz="${FRISCY_ALPINE_TAR:-../shared/fixtures/alpine-minirootfs-3.20.3-riscv64.tar.gz}"
debian="${FRISCY_DEBIAN_TAR:-$(scripts/debian-rootfs.sh 2>/dev/null | tail -1)}"
[ -e "$alpine_gz" ] || { echo "bench: no Alpine image at $alpine_gz (set FRISCY_ALPINE_TAR)" >&2; exit 1; }
[ -e "$debian" ] || { echo "bench: no Debian image (scripts/debian-rootfs.sh)" >&2; exit 1; }
scripts/reference.sh --check "$alpine_gz" >/dev/null
scripts/reference.sh --check "$debian" >/dev/null
MiB=104857600
PORT=18411

# A host sink: accepts one connection, reads to EOF, prints the byte count.
sink() {
  python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); print("ready", flush=True)
c, _ = s.accept(); n = 0
while True:
    b = c.recv(1 << 20)
    if not b: break
    n += len(b)
print(n, flush=True)' "$PORT"
}

# MB/s of one sender command (its argv), best of 3.
throughput() {
  local best=0 out
  out=$(mktemp)
  for _ in 1 2 3; do
    sink >"$out" &
    local spid=$!
    until grep -q ready "$out" 2>/dev/null; do sleep 0.05; done
    local t0 t1 n
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; exit 1; }
    wait "$spid"
    t1=$(date +%s.%N)
    n=$(tail -n 1 "$out")
    [ "$n" = "$MiB" ] || { echo "bench: the sink got $n bytes, not $MiB: $*" >&2; exit 1; }
    best=$(awk -v a="$t0" -v z="$t1" -v b="$best" -v n="$n" 'BEGIN { r = n / (z - a) / 1e6; print (r > b ? r : b) }')
  done
  rm -f "$out"
  printf '%.1f' "$best"
}

# Requests per second against a server started by the given command on $PORT.
rps() {
  "$@" >/dev/null 2>&1 &
  local pid=$!
  local r
  r=$(python3 -c '
import socket, sys, time, urllib.request
port = int(sys.argv[1])
for _ in range(600):  # up to 60 s for the server to come up
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close(); break
    except OSError: time.sleep(0.1)
else:
    sys.exit("server never listened")
t = time.monotonic()
for _ in range(200):
    urllib.request.urlopen(f"http://127.0.0.1:{port}/etc/hostname", timeout=30).read()
print(f"{200 / (time.monotonic() - t):.1f}")' "$PORT") || { kill "$pid" 2>/dev/null; echo "bench: no server: $*" >&2; exit 1; }
  kill "$pid" 2>/dev/null || true
  pkill -f "http.server $PORT" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  sleep 0.5
  echo "$r"
}

send="head -c $MiB /dev/zero | nc 127.0.0.1 $PORT"
printf '%-44s %9s %9s %9s %10s %10s\n' workload friscy qemu native friscy/qemu friscy/nat
build/friscy run --rootfs "$alpine_gz" -- true >/dev/null 2>&1 || true # warm the compile cache
f=$(throughput build/friscy run --rootfs "$alpine_gz" --net -- /bin/sh -c "$send")
q=$(throughput scripts/reference.sh "$alpine_gz" -- /bin/sh -c "$send")
n=$(throughput /bin/sh -c "head -c $MiB /dev/zero | python3 -c '
import socket, sys
s = socket.create_connection((\"127.0.0.1\", $PORT))
while b := sys.stdin.buffer.read(1 << 16): s.sendall(b)'")
printf '%-44s %9s %9s %9s %10s %10s\n' "TCP 100 MiB guest -> host sink (MB/s)" "$f" "$q" "$n" \
  "$(awk -v f="$f" -v q="$q" 'BEGIN { printf "%.2f", f / q }')" "$(awk -v f="$f" -v n="$n" 'BEGIN { printf "%.3f", f / n }')"

server="cd / && exec python3 -m http.server $PORT --bind 127.0.0.1"
f=$(rps build/friscy run --rootfs "$debian" --net -- /bin/sh -c "$server")
q=$(rps scripts/reference.sh "$debian" -- /bin/sh -c "$server")
n=$(rps /bin/sh -c "cd / && exec python3 -m http.server $PORT --bind 127.0.0.1")
printf '%-44s %9s %9s %9s %10s %10s\n' "python http.server, 200 requests (req/s)" "$f" "$q" "$n" \
  "$(awk -v f="$f" -v q="$q" 'BEGIN { printf "%.2f", f / q }')" "$(awk -v f="$f" -v n="$n" 'BEGIN { printf "%.3f", f / n }')"
