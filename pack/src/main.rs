//! friscy-pack: any container image to a friscy bundle or one composed component, with no
//! Docker. See docs/PACK.md.

mod components;
mod compose;
mod datacomp;
mod decompress;
mod flatten;
mod layout;
mod manifest;
mod oci;
mod printable;
mod progress;
mod registry;

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use oci::{Image, Platform};
use printable::printable;

const USAGE: &str = "\
usage: friscy-pack IMAGE -o DIR [options]            a bundle: rootfs.tar, manifest.json, friscy.wasm
       friscy-pack IMAGE --compose -o APP.wasm [options]   one sealed component

IMAGE is a `docker save` tarball, an OCI image layout (directory or tar), a plain rootfs
tar (.tar, .tar.gz, .tar.zst), or a registry reference (docker.io/library/alpine:3.20,
localhost:5000/app:tag, NAME@sha256:...). A path that exists is read as a file.

options:
  -o, --output PATH    the bundle directory, or the component with --compose
  --compose            write one component with the rootfs and image config inside:
                       `wasmtime run APP.wasm` runs the image's entrypoint and cmd,
                       `wasmtime run APP.wasm -- CMD...` replaces the cmd
  --platform P         OS/ARCH[/VARIANT] to pick from a multi-platform image
                       (default linux/riscv64)
  --exec FILE.wasm     compose this exec component instead of the built-in interpreter
  --plain-http         talk HTTP, not HTTPS, to the registry (always for localhost)
  -q, --quiet          no progress bars or summary
  -h, --help           this text
  -V, --version        friscy-pack's version

Registry credentials come from ~/.docker/config.json (or $DOCKER_CONFIG); blobs are
cached, verified, in $FRISCY_CACHE/blobs (default ~/.cache/friscy/blobs).
";

struct Args {
    image: String,
    output: PathBuf,
    compose: bool,
    platform: Platform,
    exec: Option<PathBuf>,
    plain_http: bool,
    quiet: bool,
}

enum Cli {
    Pack(Args),
    Help,
    Version,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Cli> {
    let mut image = None;
    let mut output = None;
    let mut compose = false;
    let mut platform = "linux/riscv64".to_string();
    let mut exec = None;
    let mut plain_http = false;
    let mut quiet = false;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .with_context(|| format!("{name} needs a value (see --help)"))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(Cli::Help),
            "-V" | "--version" => return Ok(Cli::Version),
            "-o" | "--output" => output = Some(PathBuf::from(value("--output")?)),
            "--compose" => compose = true,
            "--platform" => platform = value("--platform")?,
            "--exec" => exec = Some(PathBuf::from(value("--exec")?)),
            "--plain-http" => plain_http = true,
            "-q" | "--quiet" => quiet = true,
            s if s.starts_with('-') && s.len() > 1 => bail!("unknown option {s} (see --help)"),
            s => {
                if image.replace(s.to_string()).is_some() {
                    bail!("more than one IMAGE given (see --help)");
                }
            }
        }
    }
    let Some(image) = image else {
        return Ok(Cli::Help);
    };
    let output = output.context("-o PATH is required (see --help)")?;
    Ok(Cli::Pack(Args {
        image,
        output,
        compose,
        platform: Platform::parse(&platform)?,
        exec,
        plain_http,
        quiet,
    }))
}

fn main() -> ExitCode {
    let result = parse(std::env::args().skip(1)).and_then(|cli| match cli {
        Cli::Help => {
            print!("{USAGE}");
            Ok(())
        }
        Cli::Version => {
            println!("friscy-pack {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Cli::Pack(args) => pack(&args),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the context chain, outermost first.
            eprintln!("friscy-pack: {}", printable(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

fn pack(args: &Args) -> Result<()> {
    let bars = progress::Bars::new(args.quiet);
    let path = Path::new(&args.image);
    // Kept alive until the layers have been read (a decompressed copy of the input).
    let mut _temp = None;
    let (kind, image) = if path.exists() {
        let local = layout::open(path, &args.platform)?;
        _temp = local._temp;
        (local.kind, local.image)
    } else if registry::looks_like_reference(&args.image) {
        let image = registry::pull(&args.image, &args.platform, args.plain_http, &bars)?;
        ("registry", image)
    } else {
        bail!("{}: no such file, and not an image reference", args.image);
    };

    let start = Instant::now();
    let flat = flatten_layers(&image, &bars)?;
    let flatten_secs = start.elapsed().as_secs_f64();
    for line in flat.report.lines() {
        eprintln!("friscy-pack: skipped {}", printable(&line));
    }
    let manifest = manifest::Manifest::new(&image, &args.image);
    let config = manifest.config_bytes(kind);
    let parts = components::parts(args.exec.as_deref())?;

    let summary = if args.compose {
        let tar = flat.write(Vec::new())?;
        let rootfs_len = tar.len();
        let data = datacomp::rootfs_component(&tar, &config)?;
        drop(tar);
        let app = compose::compose(parts, Some(data))?;
        write_atomically(&args.output, &app)?;
        format!(
            "{} ({} MiB; rootfs {} MiB)",
            args.output.display(),
            app.len() >> 20,
            rootfs_len >> 20
        )
    } else {
        std::fs::create_dir_all(&args.output)
            .with_context(|| format!("creating {}", args.output.display()))?;
        let tar_path = args.output.join("rootfs.tar");
        let tmp = args.output.join("rootfs.tar.tmp");
        let file =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut w = flat.write(BufWriter::with_capacity(1 << 20, file))?;
        w.flush().context("writing rootfs.tar")?;
        drop(w);
        std::fs::rename(&tmp, &tar_path)?;
        let open = compose::compose(parts, None)?;
        write_atomically(&args.output.join("friscy.wasm"), &open)?;
        write_atomically(&args.output.join("manifest.json"), &manifest.to_json())?;
        format!(
            "{}/ (rootfs.tar, manifest.json, friscy.wasm)",
            args.output.display()
        )
    };
    if !args.quiet {
        let platform = image
            .platform
            .as_ref()
            .map(|p| format!(", {p}"))
            .unwrap_or_default();
        eprintln!(
            "friscy-pack: {} ({kind}{platform}): {} layer(s), {} entries, {} whiteouts, flattened in {:.1} s -> {summary}",
            printable(&args.image),
            image.layers.len(),
            flat.len(),
            flat.report.whiteouts,
            flatten_secs,
        );
    }
    Ok(())
}

fn flatten_layers(image: &Image, bars: &progress::Bars) -> Result<flatten::Flattener> {
    let total = flatten::total_size(&image.layers);
    let bar = bars.bytes(total, "flattening");
    let mut flat = flatten::Flattener::new()?;
    for (i, layer) in image.layers.iter().enumerate() {
        let b = bar.clone();
        flat.apply(i, layer, Box::new(move |n| b.inc(n)))?;
    }
    bar.finish_and_clear();
    Ok(flat)
}

/// Write to a temporary name beside `path`, then rename: a failed run leaves no half file.
fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, data).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
