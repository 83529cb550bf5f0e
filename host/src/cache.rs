//! Where friscy keeps what it can make again: `$FRISCY_CACHE`, else
//! `$XDG_CACHE_HOME/friscy`, else `~/.cache/friscy`, else (no home directory, as for a
//! containerd shim) `/var/cache/friscy`. Below it: `compiled/` (compiled components, at
//! most `compiled_max()`), `rootfs/` (decompressed images, FRISCY_ROOTFS_CACHE_MAX),
//! `index/` (prebuilt tar indexes, 64 MiB); each evicts least recently used first.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The cache's base directory: friscy-pack's (the same variables), or /var/cache/friscy.
pub fn base() -> PathBuf {
    friscy_pack::cache_base().unwrap_or_else(|_| PathBuf::from("/var/cache/friscy"))
}

/// Mark a cache entry as just used (its modification time orders eviction).
pub fn touch(p: &Path) {
    if let Ok(f) = std::fs::File::options().append(true).open(p) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// Remove the least recently used files of `dir` whose names end with `ext` until the
/// rest take at most `budget` bytes (`keep` is never removed). Hard links to one file
/// (the compiled cache keeps one under two keys) count once and go together. Returns
/// (files removed, bytes freed).
pub fn evict(dir: &Path, ext: &str, budget: u64, keep: Option<&Path>) -> (usize, u64) {
    use std::os::unix::fs::MetadataExt;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    // (last use, (device, inode), size, paths), oldest first.
    type Entry = (SystemTime, (u64, u64), u64, Vec<PathBuf>);
    let mut files: Vec<Entry> = Vec::new();
    for e in rd.flatten() {
        let Ok(meta) = e.metadata() else { continue };
        if !meta.is_file() || !e.file_name().to_string_lossy().ends_with(ext) {
            continue;
        }
        let id = (meta.dev(), meta.ino());
        match files.iter_mut().find(|f| f.1 == id) {
            Some(f) => f.3.push(e.path()),
            None => files.push((
                meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                id,
                meta.len(),
                vec![e.path()],
            )),
        }
    }
    files.sort_by_key(|f| f.0);
    let mut total: u64 = files.iter().map(|f| f.2).sum();
    let (mut removed, mut freed) = (0, 0);
    for (_, _, size, paths) in files {
        if total <= budget {
            break;
        }
        if keep.is_some_and(|k| paths.iter().any(|p| p == k)) {
            continue;
        }
        for p in &paths {
            if std::fs::remove_file(p).is_ok() {
                removed += 1;
            }
        }
        total -= size;
        freed += size;
    }
    (removed, freed)
}

/// At most this much compiled code is kept (`FRISCY_COMPILED_CACHE_MAX`, default 4 GiB:
/// a translated Debian Python alone compiles to 690 MB).
pub fn compiled_max() -> anyhow::Result<u64> {
    size_limit("FRISCY_COMPILED_CACHE_MAX", 4 << 30)
}

/// The size in environment variable `var` (`4g`, `512m`, bytes: the kernel's
/// `limits::parse_size`), or `default` when it is unset or empty; any other value is an
/// error that names it.
pub fn size_limit(var: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => friscy_kernel::limits::parse_size(&v)
            .ok_or_else(|| anyhow::anyhow!("{var}={v:?}: expected a size like 4g")),
        _ => Ok(default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn eviction_goes_oldest_first_and_counts_hard_links_once() {
        let dir = std::env::temp_dir().join(format!("friscy-cache-evict-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let now = SystemTime::now();
        for (i, name) in ["a.cwasm", "b.cwasm", "c.cwasm"].iter().enumerate() {
            let p = dir.join(name);
            std::fs::write(&p, vec![0u8; 1000]).unwrap();
            let f = std::fs::File::options().append(true).open(&p).unwrap();
            f.set_modified(now - Duration::from_secs(100 - i as u64 * 10))
                .unwrap();
        }
        // "a" under a second key, then used: the newest, counted once.
        std::fs::hard_link(dir.join("a.cwasm"), dir.join("a2.cwasm")).unwrap();
        touch(&dir.join("a.cwasm"));
        std::fs::write(dir.join("other.idx"), vec![0u8; 5000]).unwrap();
        assert_eq!(evict(&dir, ".cwasm", 3000, None), (0, 0));
        assert_eq!(evict(&dir, ".cwasm", 2500, None), (1, 1000));
        assert!(!dir.join("b.cwasm").exists());
        // Both names of "a" go together; "keep" stays whatever its age.
        assert_eq!(
            evict(&dir, ".cwasm", 0, Some(&dir.join("c.cwasm"))),
            (2, 1000)
        );
        assert!(dir.join("c.cwasm").exists() && dir.join("other.idx").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
