//! What `friscy run IMAGE` runs: the root filesystem tar the vfs reads and the image
//! config the kernel applies, from any image input.
//!
//! - a plain rootfs tar (.tar, .tar.gz, .tar.zst): served as it is (a compressed one from
//!   its decompressed copy in the cache, decompress.rs); no image config;
//! - a friscy-pack bundle directory: its rootfs.tar and manifest.json;
//! - a `docker save` tar, an OCI layout (directory or tar) or a registry reference:
//!   opened and flattened by friscy-pack's library (the same code as `friscy-pack`), once,
//!   into `CACHE/images/KEY/` (rootfs.tar + manifest.json), KEY naming the image digest
//!   and platform; later runs use that copy.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use friscy_pack::{Bars, Platform};
use sha2::{Digest, Sha256};

/// The image, resolved.
pub struct Resolved {
    /// An uncompressed (or compressed: the rootfs layer decompresses it) tar.
    pub rootfs: PathBuf,
    /// The image config JSON (a bundle's manifest.json), empty for none.
    pub config: Vec<u8>,
    /// A bundle's own component (its friscy.wasm: what `friscy-pack --aot` or `--exec`
    /// made for it), which runs it unless `--component` says otherwise.
    pub component: Option<PathBuf>,
}

/// Resolve `image` for `--platform`. `quiet` hides progress.
/// Whether `path` is a root filesystem directory rather than an image: a directory with
/// none of a friscy-pack bundle's, an OCI layout's or a `docker save` directory's
/// top-level files.
pub fn is_rootfs_dir(path: &Path) -> bool {
    path.is_dir()
        && !["manifest.json", "oci-layout", "index.json", "rootfs.tar"]
            .iter()
            .any(|f| path.join(f).exists())
}

pub fn resolve(image: &str, platform: &str, quiet: bool) -> Result<Resolved> {
    let platform = Platform::parse(platform).context("--platform")?;
    let path = Path::new(image);
    if path.is_dir() {
        let manifest = path.join("manifest.json");
        let rootfs = path.join("rootfs.tar");
        if rootfs.is_file() && manifest.is_file() {
            let config = std::fs::read(&manifest)
                .with_context(|| format!("bundle {}", manifest.display()))?;
            let component = Some(path.join("friscy.wasm")).filter(|c| c.is_file());
            return Ok(Resolved {
                rootfs,
                config,
                component,
            });
        }
        return unpack_cached(image, image, &platform, quiet);
    }
    if path.exists() {
        // A compressed input is judged (and served) by its decompressed copy.
        let tar = crate::rootfs::uncompressed(path)?;
        let plain = friscy_pack::is_plain_rootfs(&tar, &platform)
            .with_context(|| format!("image {image}"))?;
        if plain {
            return Ok(Resolved {
                rootfs: tar,
                config: Vec::new(),
                component: None,
            });
        }
        let resolved = unpack_cached(image, &tar.to_string_lossy(), &platform, quiet)?;
        if resolved.rootfs != tar {
            // Flattened into the image cache: a decompressed copy outside the rootfs
            // cache is not needed any more.
            crate::decompress::release(&tar);
        }
        return Ok(resolved);
    }
    if friscy_pack::looks_like_reference(image) {
        return unpack_cached(image, image, &platform, quiet);
    }
    bail!("{image}: no such file or directory, and not an image reference")
}

/// Open (or pull) `open_as`, and flatten it into the cache unless it is there already.
fn unpack_cached(image: &str, open_as: &str, platform: &Platform, quiet: bool) -> Result<Resolved> {
    let bars = Bars::new(quiet);
    let opened = friscy_pack::open(open_as, platform, false, &bars)
        .with_context(|| format!("image {image}"))?;
    if opened.kind == friscy_pack::ROOTFS_TAR {
        // A directory or file the quick look could not place: plain after all.
        return Ok(Resolved {
            rootfs: PathBuf::from(open_as),
            config: Vec::new(),
            component: None,
        });
    }
    let digest = match &opened.image.digest {
        Some(d) => d.clone(),
        // Every image format names a digest; hash the layer list if one ever does not.
        None => {
            let labels: Vec<&str> = opened
                .image
                .layers
                .iter()
                .map(|l| l.label.as_str())
                .collect();
            friscy_pack::oci::sha256(labels.join("\n").as_bytes())
        }
    };
    let key = hex(&Sha256::digest(format!("{digest} {platform}").as_bytes()))[..32].to_string();
    let dir = friscy_pack::cache_base()?.join("images").join(key);
    let (rootfs, manifest) = (dir.join("rootfs.tar"), dir.join("manifest.json"));
    if !(rootfs.is_file() && manifest.is_file()) {
        if !quiet {
            eprintln!(
                "friscy: unpacking {image} ({}, {digest}) into {}",
                opened.kind,
                dir.display()
            );
        }
        // Into a private directory, renamed into place when complete: concurrent runs
        // never see half an image.
        let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        friscy_pack::unpack(&opened, image, &tmp, &bars)?;
        if std::fs::rename(&tmp, &dir).is_err() {
            // Another run finished first.
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    let config =
        std::fs::read(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
    Ok(Resolved {
        rootfs,
        config,
        component: None,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
