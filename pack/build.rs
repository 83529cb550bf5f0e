//! Embeds the friscy components friscy-pack composes (kernel, vfs, net, exec, console) from the
//! workspace's build/components/, where scripts/build.sh puts them, so the packer is one
//! self-contained binary. Without them (a fresh clone, before scripts/build.sh) empty
//! placeholders are embedded and friscy-pack looks for the components at run time
//! instead (see `components.rs`).
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let build = manifest.join("../build/components");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed={}", build.display());
    // (name, file): the console is console-wasi.wasm.
    for (name, file) in [
        ("kernel", "kernel"),
        ("vfs", "vfs"),
        ("net", "net"),
        ("exec", "exec"),
        ("console", "console-wasi"),
    ] {
        let file = build.join(format!("{file}.wasm"));
        println!("cargo:rerun-if-changed={}", file.display());
        let embed = if file.is_file() {
            file
        } else {
            let empty = out.join(format!("{name}.empty"));
            std::fs::write(&empty, []).unwrap();
            empty
        };
        println!(
            "cargo:rustc-env=FRISCY_PACK_{}={}",
            name.to_uppercase(),
            embed.display()
        );
    }
}
