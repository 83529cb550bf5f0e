//! Inter-process communication checked against Linux: FIFOs, blocking pipe writes, timerfd
//! and MAP_SHARED memory. Each guest program from tests/guest/ runs natively in the kernel
//! and under `qemu-riscv64` (a real kernel underneath), and the outputs must be equal.

mod harness;

use harness::{guest, qemu, run_image};

/// Run `name` in friscy (working directory /w) and under qemu (a fresh host directory),
/// and assert the same output and a zero exit status on both.
fn same_as_linux(name: &str) {
    let prog = std::fs::read(guest(name)).unwrap();
    let path = format!("bin/{name}");
    let (status, out, err) = run_image(&[(&path, 0o755, prog)], &[&format!("/{path}"), "/w"]);
    let dir = std::env::temp_dir().join(format!("friscy-q-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let (qstatus, qout) = qemu(&guest(name), &[dir.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(err, "", "{name}: friscy's stderr");
    let diff: Vec<String> = out
        .lines()
        .zip(qout.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("friscy: {a}\n  qemu: {b}"))
        .collect();
    assert!(
        diff.is_empty(),
        "{name} differs from Linux:\n{}",
        diff.join("\n")
    );
    assert_eq!(out.lines().count(), qout.lines().count(), "{name}: {out}");
    assert_eq!((status as i32, qstatus), (0, 0));
}

#[test]
fn fifos_match_linux() {
    same_as_linux("ipc_fifo");
}

#[test]
fn blocking_pipe_writes_match_linux() {
    same_as_linux("ipc_pipe_write");
}

#[test]
fn timerfds_match_linux() {
    same_as_linux("ipc_timerfd");
}

#[test]
fn shared_memory_between_processes_matches_linux() {
    same_as_linux("ipc_shared_mem");
}
