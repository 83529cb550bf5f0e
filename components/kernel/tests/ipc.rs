//! Inter-process communication checked against Linux: FIFOs, blocking pipe writes, timerfd,
//! MAP_SHARED memory, and transfers under back-pressure (io_backpressure: every call that
//! moves bytes into a pipe, FIFO or AF_UNIX socket with a slow reader on the far side,
//! interrupted by a timer signal or not). Each guest program from tests/guest/ runs natively in the kernel
//! and under `qemu-riscv64` (a real kernel underneath), and the outputs must be equal.

mod harness;

use harness::{same_as_linux, same_as_linux_with};

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

#[test]
fn pipes_under_back_pressure_lose_nothing_like_linux() {
    for signals in ["none", "restart", "intr"] {
        same_as_linux_with("io_backpressure", &["pipe", signals]);
    }
}

#[test]
fn fifos_and_unix_sockets_under_back_pressure_lose_nothing_like_linux() {
    for (transport, signals) in [("fifo", "restart"), ("unix", "none"), ("unix", "intr")] {
        same_as_linux_with("io_backpressure", &[transport, signals]);
    }
}

#[test]
fn copies_between_files_match_linux() {
    same_as_linux_with("io_backpressure", &["file", "intr"]);
}

#[test]
fn cpu_time_timers_and_itimer_prof_match_linux() {
    same_as_linux("timer_cpu");
}

#[test]
fn a_futex_wake_lets_the_woken_thread_run_like_linux() {
    same_as_linux("sched_wakeup");
}
