//! Helpers for friscy's end-to-end tests: locating the build outputs of
//! `scripts/build.sh` and running commands with captured output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A file in build/, which `scripts/build.sh` must have made.
pub fn built(name: &str) -> PathBuf {
    let p = root().join("build").join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/build.sh first",
        p.display()
    );
    p
}

/// A tool from $HOME/.cargo/bin (where scripts/setup.sh installs them) or PATH.
pub fn tool(name: &str) -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let p = home.join(".cargo/bin").join(name);
    if p.exists() { p } else { PathBuf::from(name) }
}

/// Output of a finished command, with text accessors.
pub struct Run {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            status: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

pub fn run(cmd: &mut Command) -> Run {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    out.into()
}

/// `wasmtime run COMPONENT -- ARGS...`
pub fn wasmtime(component: &Path, args: &[&str]) -> Run {
    run(Command::new(tool("wasmtime"))
        .arg("run")
        .arg(component)
        .arg("--")
        .args(args))
}

/// `friscy run --rootfs IMAGE [extra...] -- ARGS...`
pub fn friscy(image: &Path, extra: &[&str], args: &[&str]) -> Run {
    run(Command::new(built("friscy"))
        .arg("run")
        .arg("--rootfs")
        .arg(image)
        .args(extra)
        .arg("--")
        .args(args))
}
