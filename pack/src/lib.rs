//! friscy-pack's library: any container image (a `docker save` tarball, an OCI image
//! layout, a plain rootfs tar, a registry reference) opened, flattened into one rootfs tar
//! with its image config, and optionally composed into one component. The `friscy-pack`
//! binary is a command line over it, and the native host (`friscy run IMAGE`) uses the
//! same code to run images that are not plain rootfs tars. See docs/PACK.md.
//!
//! Errors are `anyhow` chains: every caller is a command line that prints them as one
//! line, and the chain (outermost first) is what names the failing blob or member.

#[cfg(feature = "compose")]
mod aot;
#[cfg(feature = "compose")]
mod components;
#[cfg(feature = "compose")]
mod compose;
#[cfg(feature = "compose")]
mod datacomp;
mod decompress;
mod flatten;
mod layout;
pub mod manifest;
pub mod oci;
mod printable;
pub mod progress;
mod registry;
pub mod version;
#[cfg(feature = "compose")]
mod web;

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

pub use manifest::Manifest;
pub use oci::{Image, Platform};
pub use printable::printable;
pub use progress::Bars;
pub use registry::looks_like_reference;

/// What `Opened::kind` is for a plain root filesystem tar (no image config).
pub const ROOTFS_TAR: &str = "rootfs tar";

/// An image opened from a path or a registry, ready to flatten.
pub struct Opened {
    /// What the input was: "docker save", "OCI image layout", "registry" or [`ROOTFS_TAR`].
    pub kind: &'static str,
    pub image: Image,
    /// A decompressed copy of the input, kept alive until the layers have been read.
    _temp: Option<tempfile::TempPath>,
}

/// Open `source`: a path that exists (a file or an OCI layout directory), else a registry
/// reference pulled over the OCI distribution API (blobs cached and verified).
pub fn open(source: &str, platform: &Platform, plain_http: bool, bars: &Bars) -> Result<Opened> {
    let path = Path::new(source);
    if path.exists() {
        let local = layout::open(path, platform)?;
        Ok(Opened {
            kind: local.kind,
            image: local.image,
            _temp: local._temp,
        })
    } else if registry::looks_like_reference(source) {
        let image = registry::pull(source, platform, plain_http, bars)?;
        Ok(Opened {
            kind: "registry",
            image,
            _temp: None,
        })
    } else {
        bail!("{source}: no such file, and not an image reference");
    }
}

/// The layers of an image flattened into one tree (whiteouts applied), ready to write.
pub struct Flat {
    flat: flatten::Flattener,
    /// Seconds the flattening took.
    pub secs: f64,
}

impl Flat {
    /// Apply the layers in order, with a progress bar.
    pub fn new(image: &Image, bars: &Bars) -> Result<Flat> {
        let start = Instant::now();
        let total = flatten::total_size(&image.layers);
        let bar = bars.bytes(total, "flattening");
        let mut flat = flatten::Flattener::new()?;
        for (i, layer) in image.layers.iter().enumerate() {
            let b = bar.clone();
            flat.apply(i, layer, Box::new(move |n| b.inc(n)))?;
        }
        bar.finish_and_clear();
        Ok(Flat {
            flat,
            secs: start.elapsed().as_secs_f64(),
        })
    }

    /// What could not be carried over, one line per reason.
    pub fn skipped(&self) -> Vec<String> {
        self.flat.report.lines()
    }

    pub fn entries(&self) -> usize {
        self.flat.len()
    }

    pub fn whiteouts(&self) -> u64 {
        self.flat.report.whiteouts
    }

    /// The flattened tree as one tar (sorted by path, so the same layers give the same
    /// bytes).
    pub fn write<W: Write>(&self, out: W) -> Result<W> {
        self.flat.write(out)
    }

    /// The tar in memory, with its prebuilt index appended (`with_index`).
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        let mut tar = self.write(Vec::new())?;
        let trailer = with_index(&tar)?;
        tar.extend_from_slice(&trailer);
        Ok(tar)
    }

    /// Write the tar, with its prebuilt index, to `path` through a temporary file beside it.
    pub fn write_file(&self, path: &Path) -> Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let file = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        let mut w = self.write(BufWriter::with_capacity(1 << 20, file))?;
        w.flush()
            .with_context(|| format!("writing {}", tmp.display()))?;
        let mut file = w.into_inner().map_err(|e| e.into_error())?;
        let trailer = with_index(&file)?;
        file.write_all(&trailer)
            .with_context(|| format!("writing {}", tmp.display()))?;
        drop(file);
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

/// Write to a temporary name beside `path`, then rename: a failed run leaves no half file.
pub fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, data).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// What `pack` makes.
#[cfg(feature = "compose")]
pub struct Options {
    pub image: String,
    pub output: PathBuf,
    /// One sealed component instead of a bundle directory.
    pub compose: bool,
    /// The sealed component compiled by `wasmtime compile` (a `.cwasm`).
    pub precompile: bool,
    /// A static site for browsers (docs/WEB.md) instead of a bundle directory.
    pub web: bool,
    pub platform: Platform,
    /// An exec component to compose instead of the built-in interpreter.
    pub exec: Option<PathBuf>,
    /// Translate the image's riscv64 ELF files into exec ahead of time (rv2wasm).
    pub aot: bool,
    /// With `aot`: translate only these files of the image (absolute paths; a directory
    /// means every ELF file under it) and the dynamic linker and shared libraries they
    /// need; empty: every ELF file.
    pub aot_only: Vec<String>,
    pub plain_http: bool,
    pub quiet: bool,
}

/// `friscy-pack --version`'s text after the first line.
#[cfg(feature = "compose")]
pub fn version_details() -> String {
    format!(
        "{}composes with wac-graph {}; the output runs under wasmtime {} (WASI 0.2.6) and, \
         with --web, in browsers and Node (jco)",
        components::embedded(),
        version::WAC_GRAPH,
        version::WASMTIME
    )
}

/// The prebuilt index of a flattened tar, to append to it (friscy_vfs::prebuilt): the vfs
/// then reads it instead of parsing every header at every start.
fn with_index<R: friscy_vfs::RootfsSource + ?Sized>(tar: &R) -> Result<Vec<u8>> {
    friscy_vfs::prebuilt::trailer(tar)
        .map_err(|e| anyhow::anyhow!("indexing the flattened rootfs: {e}"))
}

/// friscy-pack: the image in `o.image` to a bundle (rootfs.tar, manifest.json, the open
/// friscy.wasm) or, with `compose`, one sealed component.
#[cfg(feature = "compose")]
pub fn pack(o: &Options) -> Result<()> {
    let bars = Bars::new(o.quiet);
    let opened = open(&o.image, &o.platform, o.plain_http, &bars)?;
    let (kind, image) = (opened.kind, &opened.image);
    let flat = Flat::new(image, &bars)?;
    for line in flat.skipped() {
        eprintln!("friscy-pack: skipped {}", printable(&line));
    }
    let manifest = Manifest::new(image, &o.image);
    let config = manifest.config_bytes(kind);
    if (o.compose || o.precompile) && o.web {
        bail!("--compose and --web make different outputs: pick one");
    }
    if o.web && o.exec.is_some() {
        bail!("--exec is not supported with --web (the browser bundle is the fused build)");
    }
    let mut parts = components::parts(o.exec.as_deref())?;
    if o.aot || !o.aot_only.is_empty() {
        if o.web {
            bail!("--aot is not supported with --web (the browser bundle is the fused build)");
        }
        let tar = flat.write(Vec::new())?;
        // Translations are linked into the module that holds exec's code: the fused
        // kernel's (exec linked in as a library) unless --exec named an exec component.
        match parts.fused.take() {
            Some(fused) => parts.fused = Some(aot::translate(&tar, &fused, &o.aot_only, o.quiet)?),
            None => parts.exec = aot::translate(&tar, &parts.exec, &o.aot_only, o.quiet)?,
        }
    }

    let summary = if o.web {
        std::fs::create_dir_all(&o.output)
            .with_context(|| format!("creating {}", o.output.display()))?;
        web::write_site(
            &o.output,
            &flat.to_vec()?,
            &manifest,
            &config,
            &web::site_name(&o.image),
        )?;
        format!(
            "{}/ (a site: `friscy serve {}`)",
            o.output.display(),
            o.output.display()
        )
    } else if o.compose || o.precompile {
        let tar = flat.to_vec()?;
        let rootfs_len = tar.len();
        let data = datacomp::rootfs_component(&tar, &config)?;
        drop(tar);
        let app = compose::compose(parts, Some(data))?;
        if o.precompile {
            precompile(&app, &o.output, o.quiet)?;
            format!(
                "{} (precompiled for `wasmtime run --allow-precompiled`; rootfs {} MiB)",
                o.output.display(),
                rootfs_len >> 20
            )
        } else {
            write_atomically(&o.output, &app)?;
            format!(
                "{} ({} MiB; rootfs {} MiB)",
                o.output.display(),
                app.len() >> 20,
                rootfs_len >> 20
            )
        }
    } else {
        std::fs::create_dir_all(&o.output)
            .with_context(|| format!("creating {}", o.output.display()))?;
        flat.write_file(&o.output.join("rootfs.tar"))?;
        let open = compose::compose(parts, None)?;
        write_atomically(&o.output.join("friscy.wasm"), &open)?;
        write_atomically(&o.output.join("manifest.json"), &manifest.to_json())?;
        format!(
            "{}/ (rootfs.tar, manifest.json, friscy.wasm)",
            o.output.display()
        )
    };
    if !o.quiet {
        let platform = image
            .platform
            .as_ref()
            .map(|p| format!(", {p}"))
            .unwrap_or_default();
        eprintln!(
            "friscy-pack: {} ({kind}{platform}): {} layer(s), {} entries, {} whiteouts, flattened in {:.1} s -> {summary}",
            printable(&o.image),
            image.layers.len(),
            flat.entries(),
            flat.whiteouts(),
            flat.secs,
        );
    }
    Ok(())
}

/// `--precompile`: compile the sealed component with `wasmtime compile` (the wasmtime on
/// PATH, or `$WASMTIME`) into `output`, a `.cwasm` that `wasmtime run --allow-precompiled`
/// maps instead of compiling, hashing and decompressing a cached copy at every start.
/// Compiled code only runs under the wasmtime version (and CPU) that made it, which is why
/// the user's own wasmtime does the compiling.
#[cfg(feature = "compose")]
fn precompile(app: &[u8], output: &Path, quiet: bool) -> Result<()> {
    let wasmtime = std::env::var_os("WASMTIME")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "wasmtime".into());
    let dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut wasm = tempfile::Builder::new()
        .suffix(".wasm")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    wasm.write_all(app)
        .and_then(|()| wasm.flush())
        .with_context(|| format!("writing {}", wasm.path().display()))?;
    let mut tmp = output.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    if !quiet {
        eprintln!(
            "friscy-pack: compiling with `{} compile`",
            wasmtime.to_string_lossy()
        );
    }
    let out = std::process::Command::new(&wasmtime)
        .arg("compile")
        .arg(wasm.path())
        .arg("-o")
        .arg(&tmp)
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "--precompile runs `wasmtime compile`, and there is no {} (install the wasmtime \
             CLI or set WASMTIME to its path)",
            wasmtime.to_string_lossy()
        ),
        Err(e) => bail!("running {}: {e}", wasmtime.to_string_lossy()),
    };
    if !out.status.success() {
        let _ = std::fs::remove_file(&tmp);
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("unrecognized subcommand") {
            bail!(
                "{} has no `compile` command (it was built without it): --precompile needs \
                 a wasmtime CLI with `compile` (the default build has it)",
                wasmtime.to_string_lossy()
            );
        }
        bail!(
            "`{} compile` failed ({}): {}",
            wasmtime.to_string_lossy(),
            out.status,
            err.trim()
        );
    }
    std::fs::rename(&tmp, output).with_context(|| format!("writing {}", output.display()))?;
    Ok(())
}

/// friscy's cache directory: `$FRISCY_CACHE`, `$XDG_CACHE_HOME/friscy` or
/// `~/.cache/friscy` (blobs/ holds registry blobs, images/ unpacked images).
pub fn cache_base() -> Result<PathBuf> {
    let var = |k| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("FRISCY_CACHE")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("friscy")))
        .or_else(|| var("HOME").map(|h| h.join(".cache/friscy")))
        .context("no cache directory (set FRISCY_CACHE, XDG_CACHE_HOME or HOME)")
}

/// Top-level names a root filesystem has and an image archive (docker save, OCI layout)
/// never has.
const ROOTFS_NAMES: &[&str] = &["bin", "etc", "lib", "usr", "sbin", "var", "dev", "proc"];

/// Whether an uncompressed tar is a plain root filesystem rather than an image archive
/// (docker save, OCI layout). A rootfs shows /bin, /etc... among its first entries and is
/// decided there; otherwise the member names are scanned for manifest.json, index.json or
/// oci-layout, and only a tar that has one is opened as an image ([`open`], whose errors,
/// such as a missing platform, are the user's to see). A tar that cannot be read is left
/// to the vfs, which reports it as a broken root filesystem.
pub fn is_plain_rootfs(tar_path: &Path, platform: &Platform) -> Result<bool> {
    let file =
        std::fs::File::open(tar_path).with_context(|| format!("opening {}", tar_path.display()))?;
    let mut archive = tar::Archive::new(file);
    let mut layout = false;
    if let Ok(entries) = archive.entries_with_seek() {
        for (i, entry) in entries.enumerate() {
            let Ok(entry) = entry else { break };
            let path = entry.path_bytes();
            let path = String::from_utf8_lossy(&path);
            let path = path.trim_start_matches("./");
            let first = path.split('/').next().unwrap_or("");
            if i < 64 && !layout && ROOTFS_NAMES.contains(&first) {
                return Ok(true);
            }
            layout |= matches!(path, "manifest.json" | "index.json" | "oci-layout");
        }
    }
    if !layout {
        return Ok(true);
    }
    let source = tar_path.to_string_lossy();
    let opened = open(&source, platform, false, &Bars::new(true))?;
    Ok(opened.kind == ROOTFS_TAR)
}

/// Flatten an opened image into `dir` (created): `rootfs.tar` and `manifest.json`, a
/// bundle without the component. Returns the manifest. `source` is what the user named.
pub fn unpack(opened: &Opened, source: &str, dir: &Path, bars: &Bars) -> Result<Manifest> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let flat = Flat::new(&opened.image, bars)?;
    for line in flat.skipped() {
        eprintln!(
            "friscy: {}: skipped {}",
            printable(source),
            printable(&line)
        );
    }
    flat.write_file(&dir.join("rootfs.tar"))?;
    let manifest = Manifest::new(&opened.image, source);
    write_atomically(&dir.join("manifest.json"), &manifest.to_json())?;
    Ok(manifest)
}
