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
