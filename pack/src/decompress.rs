//! Compressed streams (gzip, zstd) told apart by their magic bytes rather than by file
//! names or media types, which lie often enough (a `.tar` that is gzip, a docker layer
//! whose media type says tar but holds gzip).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
}

/// What the first bytes say: `None` for anything that may be a plain tar.
pub fn detect(magic: &[u8]) -> Result<Option<Compression>> {
    Ok(match magic {
        [0x1f, 0x8b, ..] => Some(Compression::Gzip),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Compression::Zstd),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => {
            bail!("xz compression is not supported (use plain, gzip or zstd)")
        }
        [b'B', b'Z', b'h', ..] => {
            bail!("bzip2 compression is not supported (use plain, gzip or zstd)")
        }
        _ => None,
    })
}

pub fn detect_file(path: &Path) -> Result<Option<Compression>> {
    let mut magic = [0u8; 6];
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let n = f.read(&mut magic).unwrap_or(0);
    detect(&magic[..n]).with_context(|| path.display().to_string())
}

/// A reader of the decompressed bytes of `r`, whatever its compression.
pub fn decoder<'a>(r: impl Read + 'a) -> Result<Box<dyn Read + 'a>> {
    let mut r = BufReader::with_capacity(1 << 16, r);
    let magic = r.fill_buf().context("reading")?;
    let n = magic.len().min(6);
    Ok(match detect(&magic[..n])? {
        None => Box::new(r),
        // Multi-member gzip (pigz, concatenated streams) decodes as one stream.
        Some(Compression::Gzip) => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Some(Compression::Zstd) => Box::new(zstd::Decoder::with_buffer(r).context("zstd")?),
    })
}

/// Decompress `path` into a temporary file (deleted when the returned path drops).
pub fn to_temp(path: &Path, _kind: Compression) -> Result<tempfile::TempPath> {
    let input = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = tempfile::Builder::new()
        .prefix("friscy-pack-")
        .suffix(".tar")
        .tempfile()
        .context("creating a temporary file")?;
    {
        let mut w = BufWriter::with_capacity(1 << 20, out.as_file_mut());
        std::io::copy(&mut decoder(input)?, &mut w)
            .with_context(|| format!("{}: truncated or corrupt compressed data", path.display()))?;
        w.flush()?;
    }
    Ok(out.into_temp_path())
}
