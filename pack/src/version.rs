//! What `--version` says beyond the crate version (`friscy-pack --version`,
//! `friscy --version`): which components a binary embeds or finds, told apart by size and
//! content hash (they are built from the same tree, so the hash is what identifies a
//! build), and the versions of the crates that compose and run them.

use std::fmt::Write;

use sha2::{Digest, Sha256};

/// The wasmtime version Cargo.lock pins: the engine linked into `friscy` and the one the
/// components are tested under (`wasmtime run`).
pub const WASMTIME: &str = env!("FRISCY_LOCK_WASMTIME");
/// The wac-graph version friscy-pack composes with.
pub const WAC_GRAPH: &str = env!("FRISCY_LOCK_WAC_GRAPH");

/// `12.3 MiB  sha256:0123456789ab` for a component's bytes.
pub fn describe(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::new();
    for b in &digest[..6] {
        write!(hex, "{b:02x}").unwrap();
    }
    format!("{:>6.1} MiB  sha256:{hex}", bytes.len() as f64 / 1048576.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_size_and_hash_prefix() {
        // sha256("abc") = ba7816bf8f01cfea...
        assert_eq!(describe(b"abc"), "   0.0 MiB  sha256:ba7816bf8f01");
        assert!(WASMTIME.starts_with("48."), "{WASMTIME}");
        assert_ne!(WAC_GRAPH, "unknown");
    }
}
