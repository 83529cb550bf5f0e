//! Compressed root filesystem images (`.tar.gz`, `.tar.zst`): decompressed once into a
//! cache keyed by the SHA-256 of the compressed bytes, so that later runs serve the tar
//! straight from disk (the vfs reads the image lazily, at random offsets, which a
//! compressed stream cannot offer).
//!
//! Each run writes to its own temporary name in the cache directory and renames it into
//! place only once the whole stream decoded and verified (gzip CRC and length, zstd frame
//! end) and the bytes are a complete tar archive (tarcheck.rs), so concurrent runs never
//! see a partial entry and a corrupt input or a non-tar leaves nothing. Only the archive
//! is kept: padding or junk after its end marker is not written.
//!
//! The cache is bounded (`FRISCY_ROOTFS_CACHE_MAX`, default 8 GiB): each use refreshes an
//! entry's time, and adding one evicts the least recently used until the rest fit. An
//! image larger than the whole cache is decompressed for this run only (an unlinked
//! file). `friscy cache prune` trims the cache to its size, or empties it (`--all`).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

/// Compressed inputs at least this large get a status line while they decompress (the
/// Alpine minirootfs, 3 MiB, takes tens of milliseconds and says nothing).
const STATUS_THRESHOLD: u64 = 8 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
}

impl Compression {
    fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// What the first bytes of an image say it is: `Ok(None)` for anything that may be a
/// plain tar (the vfs judges that), an error for compressions we do not decode.
pub fn detect(magic: &[u8]) -> Result<Option<Compression>> {
    Ok(match magic {
        [0x1f, 0x8b, ..] => Some(Compression::Gzip),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Compression::Zstd),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => {
            bail!("xz-compressed images are not supported (use .tar, .tar.gz or .tar.zst)")
        }
        [b'B', b'Z', b'h', ..] => {
            bail!("bzip2-compressed images are not supported (use .tar, .tar.gz or .tar.zst)")
        }
        _ => None,
    })
}

/// The cache directory for decompressed images: `rootfs/` of the cache (`cache::base`).
pub fn cache_dir() -> Result<PathBuf> {
    Ok(friscy_host::cache::base().join("rootfs"))
}

/// The SHA-256 of the file, streamed (images can be large).
fn content_hash(path: &Path) -> Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The cache's size when `FRISCY_ROOTFS_CACHE_MAX` is not set.
const DEFAULT_CACHE_MAX: u64 = 8 << 30;
/// Bytes after a tar's end marker that are still decoded (to check the gzip CRC or the
/// zstd frame); a stream with more is refused rather than decoded without end.
const MAX_TRAILER: u64 = 64 << 20;
/// Temporary files of runs that died are removed once this old.
const STALE_PART: Duration = Duration::from_secs(24 * 3600);

/// The cache's size limit: `FRISCY_ROOTFS_CACHE_MAX` (a size like 2g), or 8 GiB.
pub fn cache_max() -> Result<u64> {
    friscy_host::cache::size_limit("FRISCY_ROOTFS_CACHE_MAX", DEFAULT_CACHE_MAX)
}

/// Decompressed copies too big for the cache (`cached_tar`), removed by `release`.
static TEMPORARY: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Done with `tar` (it is open, or unpacked elsewhere): a copy that is not in the cache is
/// removed now (an open file keeps its bytes). Cache entries and other files stay.
pub fn release(tar: &Path) {
    let mut temporary = TEMPORARY.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = temporary.iter().position(|p| p == tar) {
        let _ = std::fs::remove_file(temporary.swap_remove(i));
    }
}

/// The content hash of `path`, remembered beside `dir` per (path, size, mtime, inode), so a
/// warm start does not read and hash the whole image (7% of a `busybox true`).
fn remembered_hash(path: &Path, dir: &Path) -> Result<String> {
    use std::hash::Hasher;
    let meta = std::fs::metadata(path)?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    friscy_host::compiled::hash_identity(path, &meta, &mut h);
    // Beside the cache, not in it: the cache holds only tars (eviction counts them).
    let dir = dir.with_file_name("rootfs-hashes");
    let memo = dir.join(format!("{:016x}", h.finish()));
    if let Ok(k) = std::fs::read_to_string(&memo)
        && k.len() == 64
        && k.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Ok(k);
    }
    let key = content_hash(path)?;
    // Only an optimisation: failing to remember is not an error.
    if std::fs::create_dir_all(&dir).is_ok() {
        let tmp = dir.join(format!(".tmp-{}", std::process::id()));
        if std::fs::write(&tmp, &key).is_ok() {
            let _ = std::fs::rename(&tmp, &memo);
        }
    }
    Ok(key)
}

/// The uncompressed tar for `path`, from the cache or decompressed into it now.
pub fn cached_tar(path: &Path, kind: Compression) -> Result<PathBuf> {
    let dir = cache_dir()?;
    let key = remembered_hash(path, &dir).with_context(|| format!("reading {}", path.display()))?;
    let out = dir.join(format!("{key}.tar"));
    if out.is_file() {
        touch(&out);
        return Ok(out);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let max = cache_max()?;
    let size = std::fs::metadata(path)?.len();
    let start = Instant::now();
    let loud = size >= STATUS_THRESHOLD;
    if loud {
        eprintln!(
            "friscy: decompressing {} ({} MiB, {}) into {} once; later runs start at once",
            path.display(),
            size >> 20,
            kind.name(),
            dir.display()
        );
    }
    // Unique per process and call: concurrent runs each write their own file, and
    // whichever renames last wins with identical content.
    let nanos = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let part = dir.join(format!(".{key}.part-{}-{nanos}", std::process::id()));
    let written = match decompress(path, kind, &part) {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    if loud {
        eprintln!(
            "friscy: decompressed in {:.1} s",
            start.elapsed().as_secs_f64()
        );
    }
    if written > max {
        eprintln!(
            "friscy: {} decompresses to {} MiB, more than the whole rootfs cache \
             (FRISCY_ROOTFS_CACHE_MAX, {} MiB): not kept after this run",
            path.display(),
            written >> 20,
            max >> 20
        );
        TEMPORARY
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(part.clone());
        return Ok(part);
    }
    // Room first, so the cache never holds more than its size.
    evict(&dir, max - written, Some(&out))?;
    std::fs::rename(&part, &out).with_context(|| format!("renaming into {}", out.display()))?;
    Ok(out)
}

/// Mark a cache entry as just used (its modification time orders eviction).
fn touch(p: &Path) {
    friscy_host::cache::touch(p)
}

/// The cache's entries: (path, size, last use), oldest first.
fn entries(dir: &Path) -> Result<Vec<(PathBuf, u64, SystemTime)>> {
    let mut v = Vec::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(v),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(meta) = e.metadata() else { continue };
        let name = e.file_name().to_string_lossy().into_owned();
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        if name.ends_with(".tar") && meta.is_file() {
            v.push((p, meta.len(), modified));
        } else if name.starts_with('.')
            && name.contains(".part-")
            && modified.elapsed().is_ok_and(|age| age > STALE_PART)
        {
            // Left behind by a run that was killed while decompressing.
            let _ = std::fs::remove_file(&p);
        }
    }
    v.sort_by_key(|(_, _, t)| *t);
    Ok(v)
}

/// Remove the least recently used entries until the rest take at most `budget` bytes
/// (`keep` is never removed). Returns (entries removed, bytes freed).
fn evict(dir: &Path, budget: u64, keep: Option<&Path>) -> Result<(usize, u64)> {
    let all = entries(dir)?;
    let mut total: u64 = all.iter().map(|(_, n, _)| n).sum();
    let (mut removed, mut freed) = (0, 0);
    for (p, n, _) in all {
        if total <= budget {
            break;
        }
        if Some(p.as_path()) == keep {
            continue;
        }
        if std::fs::remove_file(&p).is_ok() {
            total -= n;
            removed += 1;
            freed += n;
        }
    }
    Ok((removed, freed))
}

/// What `prune` removed: (files, bytes) of each kind.
pub struct Pruned {
    pub images: (usize, u64),
    pub compiled: (usize, u64),
    pub indexes: (usize, u64),
}

/// `friscy cache prune`: trim the cache to its size limits, or empty it (`all`).
pub fn prune(all: bool) -> Result<Pruned> {
    let budget = if all { 0 } else { cache_max()? };
    let dir = cache_dir()?;
    if all {
        // The remembered hashes too (`remembered_hash`).
        let _ = std::fs::remove_dir_all(dir.with_file_name("rootfs-hashes"));
    }
    // And the prebuilt indexes (rootfs.rs) and compiled components, with their own budgets.
    use friscy_host::cache;
    let (index_max, compiled_max) = match all {
        true => (0, 0),
        false => (crate::rootfs::INDEX_CACHE_MAX, cache::compiled_max()?),
    };
    let compiled = dir.with_file_name("compiled");
    Ok(Pruned {
        indexes: cache::evict(&dir.with_file_name("index"), ".idx", index_max, None),
        compiled: cache::evict(&compiled, ".cwasm", compiled_max, None),
        images: evict(&dir, budget, None)?,
    })
}

/// Decompress into `part`, checking that the bytes are a tar archive and keeping only the
/// archive itself. Returns its size.
fn decompress(path: &Path, kind: Compression, part: &Path) -> Result<u64> {
    let input = BufReader::new(File::open(path)?);
    let mut reader: Box<dyn Read> = match kind {
        // Multi-member: `pigz` and concatenated gzip files are several members in a row.
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(input).context("starting the zstd decoder")?,
        ),
    };
    let file = File::create(part).with_context(|| format!("creating {}", part.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let mut buf = vec![0; 1 << 20];
    let mut check = crate::tarcheck::TarCheck::default();
    let mut trailer = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => bail!("corrupt or truncated {} data ({e})", kind.name()),
        };
        if n == 0 {
            break;
        }
        let keep = check
            .feed(&buf[..n])
            .with_context(|| format!("{} (decompressed)", path.display()))?;
        w.write_all(&buf[..keep])
            .with_context(|| format!("writing {}", part.display()))?;
        trailer += (n - keep) as u64;
        if trailer > MAX_TRAILER {
            bail!(
                "{}: more than {} MiB of data after the end of the tar archive",
                path.display(),
                MAX_TRAILER >> 20
            );
        }
    }
    let size = check
        .finish()
        .with_context(|| format!("{} (decompressed)", path.display()))?;
    // The archive ends at its first zero block; a second makes the POSIX end marker.
    w.write_all(&[0u8; 512])
        .with_context(|| format!("writing {}", part.display()))?;
    let size = size + 512;
    let file = w
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("writing {}", part.display()))?;
    // Durable before it becomes visible under its final name.
    file.sync_all()?;
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// A tar archive of one 800 KB file, ending in its marker.
    fn sample() -> Vec<u8> {
        let body: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i * 7919).to_le_bytes())
            .collect();
        let mut h = [0u8; 512];
        h[..4].copy_from_slice(b"data");
        h[100..108].copy_from_slice(b"0000644\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", body.len()).as_bytes());
        h[156] = b'0';
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let mut a = h.to_vec();
        a.extend(body);
        a.resize(a.len().div_ceil(512) * 512, 0);
        a.extend([0u8; 1024]);
        a
    }

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "friscy-decompress-{}-{tag}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn roundtrip(compressed: &[u8], kind: Compression) -> Result<Vec<u8>> {
        let dir = scratch(&format!("{kind:?}-{}", compressed.len()));
        let src = dir.join("in");
        std::fs::write(&src, compressed).unwrap();
        let part = dir.join("part");
        let r = decompress(&src, kind, &part).map(|_| std::fs::read(&part).unwrap());
        std::fs::remove_dir_all(&dir).ok();
        r
    }

    #[test]
    fn detects_by_magic() {
        assert_eq!(detect(&gzip(b"x")).unwrap(), Some(Compression::Gzip));
        let z = zstd::encode_all(&b"x"[..], 1).unwrap();
        assert_eq!(detect(&z).unwrap(), Some(Compression::Zstd));
        assert_eq!(detect(b"ustar\0\0\0").unwrap(), None);
        assert!(detect(b"\xfd7zXZ\0rest").is_err());
    }

    #[test]
    fn decodes_gzip_and_zstd_including_multi_member_gzip() {
        let data = sample();
        assert_eq!(roundtrip(&gzip(&data), Compression::Gzip).unwrap(), data);
        let z = zstd::encode_all(&data[..], 3).unwrap();
        assert_eq!(roundtrip(&z, Compression::Zstd).unwrap(), data);
        let mut two = gzip(&data[..1000]);
        two.extend(gzip(&data[1000..]));
        assert_eq!(roundtrip(&two, Compression::Gzip).unwrap(), data);
        // One zero block ends it too; the cached copy has the full marker.
        let short = &data[..data.len() - 512];
        assert_eq!(roundtrip(&gzip(short), Compression::Gzip).unwrap(), data);
    }

    #[test]
    fn truncated_or_corrupt_streams_are_errors() {
        let data = sample();
        let g = gzip(&data);
        for cut in [20, g.len() / 2, g.len() - 4] {
            let e = roundtrip(&g[..cut], Compression::Gzip).unwrap_err();
            assert!(format!("{e:#}").contains("truncated"), "{e:#}");
        }
        let mut flipped = g.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x55;
        assert!(roundtrip(&flipped, Compression::Gzip).is_err());
        let z = zstd::encode_all(&data[..], 3).unwrap();
        for cut in [8, z.len() / 2, z.len() - 1] {
            let e = roundtrip(&z[..cut], Compression::Zstd).unwrap_err();
            assert!(format!("{e:#}").contains("truncated"), "{e:#}");
        }
    }

    #[test]
    fn only_tars_are_kept() {
        // A gzip of zeros (a 1 MB .tar.gz that would become 1 GiB) or of text is not a tar.
        let e = roundtrip(&gzip(&vec![0u8; 4 << 20]), Compression::Gzip).unwrap_err();
        assert!(format!("{e:#}").contains("not a tar"), "{e:#}");
        let e = roundtrip(&gzip(b"hello, world\n"), Compression::Gzip).unwrap_err();
        assert!(format!("{e:#}").contains("tar"), "{e:#}");
        // Junk after the archive is dropped, within reason.
        let mut padded = sample();
        padded.extend(vec![0u8; 1 << 20]);
        assert_eq!(
            roundtrip(&gzip(&padded), Compression::Gzip).unwrap().len(),
            sample().len()
        );
        let mut bomb = sample();
        bomb.extend(vec![0u8; (MAX_TRAILER + (2 << 20)) as usize]);
        let e = roundtrip(&gzip(&bomb), Compression::Gzip).unwrap_err();
        assert!(format!("{e:#}").contains("after the end"), "{e:#}");
    }

    #[test]
    fn eviction_removes_the_least_recently_used_first() {
        let dir = scratch("evict");
        let now = SystemTime::now();
        for (i, name) in ["a.tar", "b.tar", "c.tar"].iter().enumerate() {
            let p = dir.join(name);
            std::fs::write(&p, vec![0u8; 1000]).unwrap();
            let f = File::options().append(true).open(&p).unwrap();
            f.set_modified(now - Duration::from_secs(100 - i as u64 * 10))
                .unwrap();
        }
        // Using "a" makes it the newest: "b" goes first, then "c".
        touch(&dir.join("a.tar"));
        assert_eq!(evict(&dir, 2500, None).unwrap(), (1, 1000));
        assert!(!dir.join("b.tar").exists() && dir.join("c.tar").exists());
        assert_eq!(evict(&dir, 0, Some(&dir.join("a.tar"))).unwrap(), (1, 1000));
        assert!(dir.join("a.tar").exists() && !dir.join("c.tar").exists());
        std::fs::remove_dir_all(&dir).ok();
    }
}
