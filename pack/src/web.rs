//! `--web`: a static site where the image runs in a terminal in the browser (docs/WEB.md).
//!
//! The site is the browser bundle `scripts/build.sh` makes in build/web (the kernel-browser
//! component transpiled by jco, the page, its worker and host, the Node CLI, xterm.js),
//! embedded in friscy-pack at build time (build.rs), so no node or jco is needed here;
//! plus the image beside it, never inside the component:
//!
//! ```text
//! friscy.json           what the page loads first: name, image file, sizes and digest
//! image/rootfs.tar.gz   the flattened rootfs (gzip; the page inflates it with
//!                       DecompressionStream into OPFS, keyed by the digest)
//! image/config.json     the image config (friscy:vfs/image), as manifest.json
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::manifest::Manifest;

include!(concat!(env!("OUT_DIR"), "/web_files.rs"));

/// Counts and hashes the uncompressed tar on its way into the gzip stream.
struct Tee<W: Write> {
    inner: W,
    hash: Sha256,
    len: u64,
}

impl<W: Write> Write for Tee<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[derive(Serialize)]
struct SiteImage {
    file: &'static str,
    gzip: bool,
    /// Bytes to download.
    size: u64,
    /// Bytes of the tar once inflated.
    tar_size: u64,
    /// sha256 of the tar: the key of the OPFS copy (a new image is downloaded again).
    digest: String,
}

#[derive(Serialize)]
struct SiteConfig<'a> {
    name: &'a str,
    image: SiteImage,
    config: &'static str,
    /// What the page runs when the URL names no command and the image has neither
    /// entrypoint nor cmd (a plain rootfs tar): a shell, the point of a terminal page.
    default_args: Vec<&'static str>,
    /// A friscy-proxy WebSocket URL for the guest's sockets (a page parameter overrides it).
    proxy: Option<&'a str>,
}

/// The site's display name for an image argument: a file's name without its extensions,
/// or the reference as given.
pub fn site_name(image: &str) -> String {
    let p = Path::new(image);
    if p.exists() {
        let base = p.file_name().and_then(|n| n.to_str()).unwrap_or(image);
        let mut name = base;
        for ext in [".gz", ".zst", ".tgz", ".tzst", ".tar"] {
            name = name.strip_suffix(ext).unwrap_or(name);
        }
        name.to_string()
    } else {
        image.to_string()
    }
}

/// Writes the site into `dir`: the bundle, the image and friscy.json.
pub fn write_site(
    dir: &Path,
    rootfs: &[u8],
    manifest: &Manifest,
    config: &[u8],
    name: &str,
) -> Result<()> {
    if WEB_FILES.is_empty() {
        bail!(
            "this friscy-pack has no browser bundle: build/web did not exist when it was \
             built (scripts/build.sh makes it; it needs node and jco from scripts/setup.sh)"
        );
    }
    for (rel, bytes) in WEB_FILES {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    let image_dir = dir.join("image");
    std::fs::create_dir_all(&image_dir)?;
    let gz_path = image_dir.join("rootfs.tar.gz");
    let tmp = image_dir.join("rootfs.tar.gz.tmp");
    let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let tee = Tee {
        inner: GzEncoder::new(
            BufWriter::with_capacity(1 << 20, file),
            Compression::default(),
        ),
        hash: Sha256::new(),
        len: 0,
    };
    let mut tee = tee;
    tee.write_all(rootfs).context("compressing the rootfs")?;
    let digest = format!("sha256:{:x}", tee.hash.finalize());
    let tar_size = tee.len;
    let mut buffered = tee.inner.finish().context("compressing the rootfs")?;
    buffered.flush().context("writing the rootfs")?;
    drop(buffered);
    std::fs::rename(&tmp, &gz_path)?;
    std::fs::write(image_dir.join("config.json"), config)?;
    let site = SiteConfig {
        name,
        image: SiteImage {
            file: "image/rootfs.tar.gz",
            gzip: true,
            size: std::fs::metadata(&gz_path)?.len(),
            tar_size,
            digest,
        },
        config: "image/config.json",
        default_args: if manifest.entrypoint.is_empty() && manifest.cmd.is_empty() {
            vec!["/bin/sh"]
        } else {
            Vec::new()
        },
        proxy: None,
    };
    let mut json = serde_json::to_vec_pretty(&site)?;
    json.push(b'\n');
    std::fs::write(dir.join("friscy.json"), json)?;
    Ok(())
}
