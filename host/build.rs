//! Links `friscy` as a position-dependent executable (`-no-pie`) on Linux, unless
//! FRISCY_PIE is set when building.
//!
//! Why: as a position-independent executable, every start had the dynamic loader apply
//! 36,906 relative relocations to the 29 MB binary (vtables, string tables, wasmtime's
//! and clap's statics): about 120 host page faults and 0.5 ms of a 7 ms `friscy run IMAGE
//! -- /bin/true` (docs/PERFORMANCE.md, "A position-dependent host"). Linked at a fixed
//! address it has 158 relocations, all to libc's symbols. The price is that the
//! executable's own image is not placed at a random address (libraries, heap, stacks
//! and the compiled Wasm still are), as with the statically linked runc and containerd
//! that container runtimes ship; FRISCY_PIE=1 scripts/build.sh keeps it PIE.
fn main() {
    println!("cargo::rerun-if-env-changed=FRISCY_PIE");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    // A crt-static build links static-pie, which -no-pie contradicts.
    let crt_static = std::env::var("CARGO_CFG_TARGET_FEATURE")
        .is_ok_and(|f| f.split(',').any(|f| f == "crt-static"));
    if linux && !crt_static && std::env::var_os("FRISCY_PIE").is_none() {
        println!("cargo::rustc-link-arg-bins=-no-pie");
    }
}
