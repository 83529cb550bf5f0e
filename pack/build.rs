//! Embeds the friscy components friscy-pack composes (kernel, vfs, net, exec, console, and
//! the fused kernel) from
//! the workspace's build/components/, where scripts/build.sh puts them, and the browser
//! bundle from build/web/ (for `--web`), so the packer is one self-contained binary.
//! Without them (a fresh clone, before scripts/build.sh) empty
//! placeholders are embedded and friscy-pack looks for the components at run time
//! instead (see `components.rs`).
use std::path::{Path, PathBuf};

fn main() {
    lock_versions();
    // Without composition (the native host's use of the library) nothing is embedded.
    if std::env::var_os("CARGO_FEATURE_COMPOSE").is_none() {
        return;
    }
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
        ("kernel_fused", "kernel-fused"),
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
    embed_web(&manifest.join("../build/web"), &out);
}

/// build/web/** as `WEB_FILES: &[(relative path, bytes)]` (empty without build/web).
fn embed_web(web: &Path, out: &Path) {
    println!("cargo:rerun-if-changed={}", web.display());
    let mut files = Vec::new();
    collect(web, web, &mut files);
    files.sort();
    let mut code = String::from("pub static WEB_FILES: &[(&str, &[u8])] = &[\n");
    for (rel, abs) in &files {
        println!("cargo:rerun-if-changed={}", abs.display());
        code.push_str(&format!(
            "    ({rel:?}, include_bytes!({:?})),\n",
            abs.display().to_string()
        ));
    }
    code.push_str("];\n");
    std::fs::write(out.join("web_files.rs"), code).unwrap();
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(root, &path, files);
        } else if let Ok(rel) = path.strip_prefix(root) {
            files.push((rel.to_string_lossy().into_owned(), path));
        }
    }
}

/// `FRISCY_LOCK_<CRATE>`: the versions Cargo.lock pins for the crates `--version` names
/// (wasmtime, which runs what we build, and wac-graph, which composes it).
fn lock_versions() {
    let lock = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    for name in ["wasmtime", "wac-graph"] {
        let key = format!("name = \"{name}\"\nversion = \"");
        let version = text
            .find(&key)
            .map(|i| &text[i + key.len()..])
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("unknown");
        println!(
            "cargo:rustc-env=FRISCY_LOCK_{}={version}",
            name.to_uppercase().replace('-', "_")
        );
    }
}
