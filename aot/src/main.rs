//! rv2wasm: translates riscv64 ELF files ahead of time and links the result into exec's
//! component, which then runs them at Wasm speed (and everything else interpreted).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "rv2wasm",
    about = "Translate RISC-V ELF code to WebAssembly inside friscy's exec component"
)]
struct Args {
    /// riscv64 ELF executables or shared libraries (others are reported and skipped), or
    /// rootfs tars (.tar, .tar.gz) whose every riscv64 ELF file is translated.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Where to write the exec component with the translations.
    #[arg(short, long)]
    output: PathBuf,
    /// With rootfs tars: translate only this file of the image (or every ELF file under
    /// this directory), with the dynamic linker and shared libraries it needs; repeatable.
    #[arg(long, value_name = "PATH")]
    only: Vec<String>,
    /// The interpreter's exec component to link into.
    #[arg(long, default_value = "build/components/exec.wasm")]
    exec: PathBuf,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let t0 = Instant::now();
    let exec = std::fs::read(&args.exec).with_context(|| {
        format!(
            "reading exec component {} (build it with scripts/build.sh, or name it with --exec)",
            args.exec.display()
        )
    })?;
    let mut inputs = Vec::new();
    let mut tars = 0;
    for f in &args.files {
        let data = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let name = f.display().to_string();
        if friscy_aot::image::is_tar(&name, &data) {
            tars += 1;
            let found = if args.only.is_empty() {
                friscy_aot::image::elfs_in_tar(&data)
            } else {
                friscy_aot::image::select_in_tar(&data, &args.only)
            }
            .with_context(|| format!("reading the image {name}"))?;
            inputs.extend(found);
        } else {
            inputs.push(friscy_aot::Input { name, data });
        }
    }
    if !args.only.is_empty() && tars == 0 {
        anyhow::bail!("--only picks files out of a rootfs tar, and no input is one");
    }
    let (out, r) = friscy_aot::translate(&inputs, &exec)?;
    for (name, why) in &r.skipped {
        eprintln!("rv2wasm: skipped {name}: {why}");
    }
    // An exec component with nothing translated would run, but only ever interpret: a
    // mistake (a wrong path, a tar that is not a rootfs) better said than written out.
    if r.files == 0 {
        anyhow::bail!(
            "nothing to translate: no riscv64 ELF executable or shared object among the inputs; {} not written",
            args.output.display()
        );
    }
    std::fs::write(&args.output, &out)
        .with_context(|| format!("writing {}", args.output.display()))?;
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "rv2wasm: {} files, {} functions, {} blocks, {} instructions; {} of {} bytes of code translated ({:.1}%); {} -> {} bytes; {:.2}s",
        r.files,
        r.funcs,
        r.blocks,
        r.insts,
        r.code_bytes,
        r.text_bytes,
        r.code_bytes as f64 * 100.0 / r.text_bytes.max(1) as f64,
        exec.len(),
        out.len(),
        secs
    );
    Ok(())
}
