#!/usr/bin/env bash
# friscy-pack throughput: builds a ~300 MiB (flattened) three-layer OCI image layout (the Debian trixie
# riscv64 rootfs, ~260 MiB of incompressible files, and a layer of whiteouts and hard
# links; gzip and zstd layers), then times
#   - flattening into a bundle   (friscy-pack IMAGE -o DIR), and
#   - flattening + composing     (friscy-pack IMAGE --compose -o app.wasm),
# reports MB/s over the flattened rootfs size and the composed component's size against
# the rootfs, and runs the component once under `wasmtime run` (cold, then cached).
#
#   bench/pack.sh            # needs build/friscy-pack (scripts/build.sh) and the Debian
#                            # fixture (scripts/debian-rootfs.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
PACK=${FRISCY_PACK:-build/friscy-pack}
DEBIAN=${FRISCY_DEBIAN_TAR:-$HOME/.cache/friscy/fixtures/debian-trixie-riscv64.tar}
[ -x "$PACK" ] || { echo "bench: no $PACK (run scripts/build.sh)" >&2; exit 1; }
[ -e "$DEBIAN" ] || { echo "bench: no $DEBIAN (run scripts/debian-rootfs.sh)" >&2; exit 1; }
W=$(mktemp -d /tmp/friscy-bench-pack.XXXXXX)
trap 'rm -rf "$W"' EXIT

echo "bench: building the image in $W" >&2
mkdir -p "$W/l2/data" "$W/l3/data"
for i in $(seq 1 130); do head -c $((2 << 20)) /dev/urandom > "$W/l2/data/blob$i"; done
for i in $(seq 1 20); do : > "$W/l3/data/.wh.blob$i"; done
echo kept > "$W/l3/data/kept" && ln "$W/l3/data/kept" "$W/l3/data/kept-link"
tar --owner=0 --group=0 --numeric-owner -C "$W/l2" -cf "$W/layer2.tar" .
tar --owner=0 --group=0 --numeric-owner -C "$W/l3" -cf "$W/layer3.tar" .
python3 - "$W" "$DEBIAN" <<'EOF'
import gzip, hashlib, json, os, subprocess, sys
w, debian = sys.argv[1], sys.argv[2]
blobs = os.path.join(w, "oci/blobs/sha256"); os.makedirs(blobs)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return "sha256:" + d, len(data)
layers, diff_ids = [], []
for path, comp in [(debian, "zstd"), (w + "/layer2.tar", "gzip"), (w + "/layer3.tar", "gzip")]:
    raw = open(path, "rb").read()
    diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    if comp == "gzip":
        data = gzip.compress(raw, 1)
    else:
        data = subprocess.run(["zstd", "-1", "-c"], input=raw, capture_output=True, check=True).stdout
    d, n = put(data)
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+" + comp, "digest": d, "size": n})
cfg = json.dumps({"architecture": "riscv64", "os": "linux",
                  "config": {"Cmd": ["/bin/cat", "/data/kept"]},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
cd, cn = put(cfg)
m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
                "layers": layers}).encode()
md, mn = put(m)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
           "digest": md, "size": mn}]}, open(w + "/oci/index.json", "w"))
open(w + "/oci/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
EOF
rm -rf "$W/l2" "$W/l3" "$W/layer2.tar" "$W/layer3.tar"
compressed=$(du -sb "$W/oci/blobs" | cut -f1)

now() { date +%s.%N; }
t0=$(now); "$PACK" "$W/oci" -q -o "$W/bundle"; t1=$(now)
"$PACK" "$W/oci" -q --compose -o "$W/app.wasm"; t2=$(now)
rootfs=$(stat -c %s "$W/bundle/rootfs.tar")
app=$(stat -c %s "$W/app.wasm")
t3=$(now); out=$(wasmtime run "$W/app.wasm"); t4=$(now)
out2=$(wasmtime run "$W/app.wasm"); t5=$(now)
[ "$out" = kept ] && [ "$out2" = kept ] || { echo "bench: the image printed '$out'" >&2; exit 1; }
python3 - "$compressed" "$rootfs" "$app" "$t0" "$t1" "$t2" "$t3" "$t4" "$t5" <<'EOF'
import sys
c, r, a = map(int, sys.argv[1:4]); t0, t1, t2, t3, t4, t5 = map(float, sys.argv[4:])
mb = lambda n: n / 1e6
print(f"image: 3 layers, {mb(c):.0f} MB compressed; flattened rootfs.tar {mb(r):.0f} MB")
print(f"bundle (flatten + write rootfs.tar + open component): {t1-t0:.1f} s, {mb(r)/(t1-t0):.0f} MB/s")
print(f"--compose (flatten + data component + wac-graph):      {t2-t1:.1f} s, {mb(r)/(t2-t1):.0f} MB/s")
print(f"composed component {mb(a):.1f} MB = rootfs + {mb(a-r):.2f} MB ({a/r:.4f}x)")
print(f"wasmtime run app.wasm: first run (compiles) {t4-t3:.1f} s, second {t5-t4:.1f} s")
EOF
