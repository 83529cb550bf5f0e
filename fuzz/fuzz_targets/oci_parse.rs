//! friscy-pack's OCI handling (pack/src/oci.rs, included as it is): any bytes as an image
//! index or manifest, resolved to a platform through any blobs. The input is split at
//! 0xff bytes (never valid in JSON): the first piece is the top document, the rest are
//! blobs. The fuzzer cannot forge sha256 digests, so this store also serves a digest it
//! does not hold by index (its first hex digit) without checking it: the traversal and
//! the parsers are what is under test here; `oci::verify` itself is one comparison.
#![no_main]

#[allow(dead_code)]
#[path = "../../pack/src/oci.rs"]
mod oci;

use libfuzzer_sys::fuzz_target;
use oci::{BlobSource, Blobs, Descriptor, Platform};

struct Store(Vec<Vec<u8>>);

impl Store {
    fn get(&self, digest: &str) -> anyhow::Result<Vec<u8>> {
        if let Some(b) = self.0.iter().find(|b| oci::sha256(b) == digest) {
            return Ok(b.clone());
        }
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        let i = hex
            .get(..1)
            .and_then(|h| usize::from_str_radix(h, 16).ok())
            .ok_or_else(|| anyhow::anyhow!("no blob {digest}"))?;
        self.0
            .get(i % self.0.len().max(1))
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no blob {digest}"))
    }
}

impl Blobs for Store {
    fn manifest(&mut self, digest: &str) -> anyhow::Result<Vec<u8>> {
        self.get(digest)
    }
    fn blob(&mut self, digest: &str) -> anyhow::Result<Vec<u8>> {
        self.get(digest)
    }
    fn layer(&mut self, desc: &Descriptor) -> anyhow::Result<BlobSource> {
        Ok(BlobSource::File(desc.digest.clone().into()))
    }
}

fuzz_target!(|data: &[u8]| {
    let mut pieces = data.split(|&b| b == 0xff);
    let top = pieces.next().unwrap_or_default();
    let mut store = Store(pieces.map(<[u8]>::to_vec).collect());
    let digest = oci::sha256(top);
    for want in ["linux/riscv64", "linux/arm/v7"] {
        let want = Platform::parse(want).unwrap();
        let _ = oci::resolve(&mut store, top, &digest, &want, "fuzz");
    }
    let _ = oci::parse_json::<oci::ConfigFile>("config", top).map(|c| c.platform().to_string());
    if let Ok(s) = std::str::from_utf8(top) {
        let _ = Platform::parse(s);
    }
    let _ = oci::verify("blob", &digest, top);
});
