//! The friscy components friscy-pack composes: kernel, vfs, net, exec and console-wasi, and
//! the fused kernel (exec, vfs and net linked in), which compositions use unless `--exec`
//! replaces exec.
//!
//! They are embedded at build time from build/components/ (build.rs), which makes one
//! self-contained binary that needs no files beside it. A friscy-pack built before the
//! components exist falls back, per component, to `$FRISCY_PACK_COMPONENTS/NAME.wasm` or
//! `components/NAME.wasm` beside the executable (the layout of build/). `--exec FILE`
//! replaces exec whatever the source.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::compose::Parts;

static KERNEL: &[u8] = include_bytes!(env!("FRISCY_PACK_KERNEL"));
static VFS: &[u8] = include_bytes!(env!("FRISCY_PACK_VFS"));
static EXEC: &[u8] = include_bytes!(env!("FRISCY_PACK_EXEC"));
static NET: &[u8] = include_bytes!(env!("FRISCY_PACK_NET"));
static CONSOLE: &[u8] = include_bytes!(env!("FRISCY_PACK_CONSOLE"));
static KERNEL_FUSED: &[u8] = include_bytes!(env!("FRISCY_PACK_KERNEL_FUSED"));

fn load(name: &str, embedded: &'static [u8]) -> Result<Vec<u8>> {
    if !embedded.is_empty() {
        return Ok(embedded.to_vec());
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = std::env::var_os("FRISCY_PACK_COMPONENTS") {
        dirs.push(d.into());
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        dirs.push(exe_dir.join("components"));
    }
    for d in &dirs {
        let f = d.join(format!("{name}.wasm"));
        if f.is_file() {
            return std::fs::read(&f).with_context(|| format!("reading {}", f.display()));
        }
    }
    bail!(
        "no {name} component: this friscy-pack was built before scripts/build.sh made \
         build/components/{name}.wasm (rebuild it, or set FRISCY_PACK_COMPONENTS=DIR)"
    )
}

/// `--version`: each embedded component (or where it would be looked for at run time),
/// and the browser bundle.
pub fn embedded() -> String {
    let mut out = String::from("embedded components (scripts/build.sh's build/components/):\n");
    for (name, bytes) in [
        ("kernel", KERNEL),
        ("kernel-fused", KERNEL_FUSED),
        ("exec", EXEC),
        ("vfs", VFS),
        ("net", NET),
        ("console-wasi", CONSOLE),
    ] {
        let what = if bytes.is_empty() {
            "not embedded (looked for at run time in components/ beside friscy-pack)".into()
        } else {
            crate::version::describe(bytes)
        };
        out.push_str(&format!("  {name:<13} {what}\n"));
    }
    let files = crate::web::WEB_FILES;
    let size: usize = files.iter().map(|(_, b)| b.len()).sum();
    out.push_str(&format!(
        "  {:<13} {}\n",
        "web bundle",
        if files.is_empty() {
            "not embedded (--web unavailable)".to_string()
        } else {
            format!(
                "{:>6.1} MiB  {} files",
                size as f64 / 1048576.0,
                files.len()
            )
        }
    ));
    out
}

/// The parts, with `exec` replaced by the given component file.
pub fn parts(exec: Option<&Path>) -> Result<Parts> {
    let (exec, fused) = match exec {
        Some(p) => (
            std::fs::read(p).with_context(|| format!("--exec {}", p.display()))?,
            None,
        ),
        None => (load("exec", EXEC)?, load("kernel-fused", KERNEL_FUSED).ok()),
    };
    Ok(Parts {
        fused,
        kernel: load("kernel", KERNEL)?,
        vfs: load("vfs", VFS)?,
        net: load("net", NET)?,
        console: load("console-wasi", CONSOLE)?,
        exec,
    })
}
