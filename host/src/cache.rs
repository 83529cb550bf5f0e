//! Where friscy keeps what it can make again: `$FRISCY_CACHE`, else
//! `$XDG_CACHE_HOME/friscy`, else `~/.cache/friscy`, else (no home directory, as for a
//! containerd shim) `/var/cache/friscy`. Below it: `compiled/` (compiled components),
//! `rootfs/` (decompressed images), `index/` (prebuilt tar indexes).

use std::path::PathBuf;

/// The cache's base directory.
pub fn base() -> PathBuf {
    let var = |k| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("FRISCY_CACHE")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("friscy")))
        .or_else(|| var("HOME").map(|h| h.join(".cache/friscy")))
        .unwrap_or_else(|| PathBuf::from("/var/cache/friscy"))
}
