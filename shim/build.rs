//! Embeds the component the shim runs, build/friscy-dir-open.wasm (scripts/build.sh makes it
//! before building the shim), so the shim is one self-contained file to install. Without it
//! (a fresh clone) an empty placeholder is embedded and the shim looks for the component
//! at run time instead (`runner::component`).
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let file = manifest.join("../build/friscy-dir-open.wasm");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed={}", file.display());
    let embed = if file.is_file() {
        file
    } else {
        let empty = out.join("friscy-dir-open.empty");
        std::fs::write(&empty, []).unwrap();
        empty
    };
    println!(
        "cargo:rustc-env=FRISCY_SHIM_COMPONENT_FILE={}",
        embed.display()
    );
}
