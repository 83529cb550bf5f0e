//! Embeds the tar named by FRISCY_ROOTFS (an uncompressed tar archive) in the component.
fn main() {
    println!("cargo:rerun-if-env-changed=FRISCY_ROOTFS");
    let path = std::env::var("FRISCY_ROOTFS").unwrap_or_default();
    if path.is_empty() {
        // Building the workspace natively (cargo test, clippy) needs no image.
        let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("empty.tar");
        std::fs::write(&out, [0u8; 1024]).unwrap();
        println!("cargo:rustc-env=FRISCY_ROOTFS_EMBED={}", out.display());
        return;
    }
    let path = std::fs::canonicalize(&path).unwrap_or_else(|e| panic!("FRISCY_ROOTFS={path}: {e}"));
    println!("cargo:rerun-if-changed={}", path.display());
    println!("cargo:rustc-env=FRISCY_ROOTFS_EMBED={}", path.display());
}
