//! Inter-process communication checked against Linux: FIFOs, blocking pipe writes, timerfd
//! and MAP_SHARED memory. Each guest program from tests/guest/ runs natively in the kernel
//! and under `qemu-riscv64` (a real kernel underneath), and the outputs must be equal.

mod harness;

use harness::same_as_linux;

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
