//! `--aot`: every riscv64 ELF file of the image translated by rv2wasm (`friscy-aot`) into
//! the exec component, which then runs them as Wasm (and anything else interpreted).
//!
//! Translations are cached by content: the key is a hash of the component translated
//! into, of the translator (this very executable: a rebuilt rv2wasm may translate the
//! same files differently), and of every translated file's content key, so re-packing an
//! unchanged image (or another image with the same programs) translates nothing.

use std::time::Instant;

use anyhow::{Context, Result};
use friscy_aot::{Input, image};
use friscy_exec::FileKey;

/// `exec` with the ELF files of `tar` (the flattened rootfs) translated into it: all of
/// them, or those that running `only` needs (`image::select_in_tar`).
pub fn translate(tar: &[u8], exec: &[u8], only: &[String], quiet: bool) -> Result<Vec<u8>> {
    let t0 = Instant::now();
    let inputs: Vec<Input> = if only.is_empty() {
        image::elfs_in_tar(tar).context("reading the image's ELF files")?
    } else {
        let picked = image::select_in_tar(tar, only).context("--aot-only")?;
        if !quiet {
            let names: Vec<&str> = picked.iter().map(|i| i.name.as_str()).collect();
            eprintln!("friscy-pack: --aot-only: {}", names.join(" "));
        }
        picked
    };
    let mut keys: Vec<[u8; 16]> = inputs.iter().map(|i| FileKey::of(&i.data).0).collect();
    keys.sort();
    keys.dedup();
    let mut id = FileKey::of(exec).0.to_vec();
    id.extend_from_slice(&friscy_exec::aot::abi::ABI_VERSION.to_le_bytes());
    id.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
    // The translator's own bytes: without them a cache filled by an older friscy-pack
    // would keep serving its translations after rv2wasm changed.
    let me = std::env::current_exe()
        .and_then(std::fs::read)
        .context("reading friscy-pack's own executable (part of the --aot cache key)")?;
    id.extend_from_slice(&FileKey::of(&me).0);
    for k in &keys {
        id.extend_from_slice(k);
    }
    let dir = crate::cache_base()?.join("aot");
    let path = dir.join(format!("{}.wasm", FileKey::of(&id).hex()));
    if let Ok(cached) = std::fs::read(&path) {
        if !quiet {
            eprintln!(
                "friscy-pack: --aot: {} ELF files, translation cached ({})",
                keys.len(),
                path.display()
            );
        }
        return Ok(cached);
    }
    if !quiet {
        eprintln!(
            "friscy-pack: --aot: translating {} ELF files...",
            keys.len()
        );
    }
    let (out, r) = friscy_aot::translate(&inputs, exec)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &out).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    if !quiet {
        for (name, why) in &r.skipped {
            eprintln!("friscy-pack: --aot: skipped {name}: {why}");
        }
        eprintln!(
            "friscy-pack: --aot: {} files, {} functions, {} instructions; {} of {} bytes of code translated ({:.1}%); exec {} -> {} MiB in {:.1} s",
            r.files,
            r.funcs,
            r.insts,
            r.code_bytes,
            r.text_bytes,
            r.code_bytes as f64 * 100.0 / r.text_bytes.max(1) as f64,
            exec.len() >> 20,
            out.len() >> 20,
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(out)
}
