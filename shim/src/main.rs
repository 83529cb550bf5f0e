//! `containerd-shim-friscy-v1`: containerd's runtime `io.containerd.friscy.v1`. containerd
//! (and so Kubernetes, through a RuntimeClass) runs unmodified `linux/riscv64` images with
//! it: each container's process runs inside friscy, with the snapshot containerd unpacked
//! as its root filesystem, read in place. See docs/CONTAINERD.md.
//!
//! The binary has two roles. Run by containerd (`start`, `delete`, or as the daemon with
//! `-socket`), it is the shim: the containerd shim v2 API (`service.rs`). Run by the shim
//! itself as `containerd-shim-friscy-v1 friscy-task`, it is one container's task process,
//! which runs the guest on wasmtime (`runner.rs`).

mod console;
mod netns;
mod plan;
mod runner;
mod service;
mod task;

/// The first argument that makes this binary a task process.
pub const TASK_COMMAND: &str = "friscy-task";

fn main() -> std::process::ExitCode {
    if std::env::args().nth(1).as_deref() == Some(TASK_COMMAND) {
        return runner::main();
    }
    containerd_shim::run::<service::Service>("io.containerd.friscy.v1", None);
    std::process::ExitCode::SUCCESS
}
