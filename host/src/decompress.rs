//! Compressed root filesystem images (`.tar.gz`, `.tar.zst`): decompressed once into a
//! cache keyed by the SHA-256 of the compressed bytes, so that later runs serve the tar
//! straight from disk (the vfs reads the image lazily, at random offsets, which a
//! compressed stream cannot offer).
//!
//! Each run writes to its own temporary name in the cache directory and renames it into
//! place only once the whole stream decoded and verified (gzip CRC and length, zstd frame
//! end), so concurrent runs never see a partial entry and a corrupt input leaves nothing.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
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

/// The cache directory for decompressed images: `$FRISCY_CACHE/rootfs`,
/// `$XDG_CACHE_HOME/friscy/rootfs` or `~/.cache/friscy/rootfs`.
fn cache_dir() -> Result<PathBuf> {
    let var = |k| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = var("FRISCY_CACHE")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("friscy")))
        .or_else(|| var("HOME").map(|h| h.join(".cache/friscy")))
        .ok_or_else(|| {
            anyhow!("no cache directory for the decompressed image (set XDG_CACHE_HOME or HOME)")
        })?;
    Ok(base.join("rootfs"))
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

/// The uncompressed tar for `path`, from the cache or decompressed into it now.
pub fn cached_tar(path: &Path, kind: Compression) -> Result<PathBuf> {
    let key = content_hash(path).with_context(|| format!("reading {}", path.display()))?;
    let dir = cache_dir()?;
    let out = dir.join(format!("{key}.tar"));
    if out.is_file() {
        return Ok(out);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
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
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let part = dir.join(format!(".{key}.part-{}-{nanos}", std::process::id()));
    let written = decompress(path, kind, &part);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&part);
        return Err(e);
    }
    std::fs::rename(&part, &out).with_context(|| format!("renaming into {}", out.display()))?;
    if loud {
        eprintln!(
            "friscy: decompressed in {:.1} s",
            start.elapsed().as_secs_f64()
        );
    }
    Ok(out)
}

fn decompress(path: &Path, kind: Compression, part: &Path) -> Result<()> {
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
    loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => bail!("corrupt or truncated {} data ({e})", kind.name()),
        };
        if n == 0 {
            break;
        }
        w.write_all(&buf[..n])
            .with_context(|| format!("writing {}", part.display()))?;
    }
    let file = w
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("writing {}", part.display()))?;
    // Durable before it becomes visible under its final name.
    file.sync_all()?;
    Ok(())
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

    fn sample() -> Vec<u8> {
        (0..200_000u32)
            .flat_map(|i| (i * 7919).to_le_bytes())
            .collect()
    }

    fn roundtrip(compressed: &[u8], kind: Compression) -> Result<Vec<u8>> {
        let dir = std::env::temp_dir().join(format!(
            "friscy-decompress-{}-{:?}-{}",
            std::process::id(),
            kind,
            compressed.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("in");
        std::fs::write(&src, compressed).unwrap();
        let part = dir.join("part");
        let r = decompress(&src, kind, &part).map(|()| std::fs::read(&part).unwrap());
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
    }

    #[test]
    fn truncated_or_corrupt_streams_are_errors() {
        let data = sample();
        let g = gzip(&data);
        for cut in [20, g.len() / 2, g.len() - 4] {
            let e = roundtrip(&g[..cut], Compression::Gzip).unwrap_err();
            assert!(e.to_string().contains("corrupt or truncated gzip"), "{e}");
        }
        let mut flipped = g.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x55;
        assert!(roundtrip(&flipped, Compression::Gzip).is_err());
        let z = zstd::encode_all(&data[..], 3).unwrap();
        for cut in [8, z.len() / 2, z.len() - 1] {
            let e = roundtrip(&z[..cut], Compression::Zstd).unwrap_err();
            assert!(e.to_string().contains("corrupt or truncated zstd"), "{e}");
        }
    }
}
