//! The kernel run natively (no Wasm): exec and vfs linked as libraries, a host that
//! captures output, and real riscv64 programs from tests/guest/ in a tar image built here.
//! This is the no-Wasm mode DESIGN.md describes, and the fastest way to debug the kernel.

mod harness;

use harness::{guest, qemu, run_image as run};

#[test]
fn static_glibc_hello_prints_its_argv() {
    let hello = std::fs::read(guest("hello")).unwrap();
    let (status, out, err) = run(&[("hello", 0o755, hello)], &["/hello", "a", "b"]);
    assert_eq!(
        out, "hello from riscv64\nargv[0] = /hello\nargv[1] = a\nargv[2] = b\n",
        "stderr: {err}"
    );
    assert_eq!(status, 0);
}

#[test]
fn exit_status_and_stderr() {
    let prog = std::fs::read(guest("exit_status")).unwrap();
    let (status, out, err) = run(
        &[("bin/exit_status", 0o755, prog)],
        &["/bin/exit_status", "42"],
    );
    assert_eq!(
        (status, out.as_str(), err.as_str()),
        (42, "exiting with 42\n", "to stderr\n")
    );
}

#[test]
fn null_store_dies_with_sigsegv() {
    let prog = std::fs::read(guest("segfault")).unwrap();
    let (status, out, err) = run(&[("segfault", 0o755, prog)], &["/segfault"]);
    assert_eq!(out, "about to fault\n");
    assert_eq!(status, 139);
    assert!(
        err.contains("Segmentation fault (store at unmapped address 0x0)"),
        "{err}"
    );
}

#[test]
fn scripts_and_unrunnable_files() {
    let hello = std::fs::read(guest("hello")).unwrap();
    let files = [
        ("bin/hello", 0o755, hello),
        ("script", 0o755, b"#!/bin/hello -x\n".to_vec()),
        ("noexec", 0o644, b"data".to_vec()),
        ("badinterp", 0o755, b"#!/missing/interp\n".to_vec()),
    ];
    let (status, out, _) = run(&files, &["/script", "y"]);
    assert_eq!(status, 0);
    assert_eq!(
        out,
        "hello from riscv64\nargv[0] = /bin/hello\nargv[1] = -x\nargv[2] = /script\nargv[3] = y\n"
    );
    let (status, _, err) = run(&files, &["/noexec"]);
    assert_eq!(
        (status, err.as_str()),
        (126, "friscy: /noexec: Permission denied\n")
    );
    let (status, _, err) = run(&files, &["/badinterp"]);
    assert_eq!(
        (status, err.as_str()),
        (
            127,
            "friscy: /badinterp: interpreter /missing/interp not found\n"
        )
    );
}

/// Run a subtest of tests/guest/procs.c under friscy and qemu; outputs must be equal.
fn procs_matches_qemu(subtest: &str) {
    let path = guest("procs");
    let prog = std::fs::read(&path).unwrap();
    let (status, out, err) = run(&[("bin/procs", 0o755, prog)], &["/bin/procs", subtest]);
    let (qstatus, qout) = qemu(&path, &[subtest]);
    assert_eq!(out, qout, "friscy stderr: {err}");
    assert_eq!(status as i32, qstatus, "friscy stderr: {err}");
}

#[test]
fn fork_wait_and_exit_statuses_match_qemu() {
    procs_matches_qemu("fork");
}

#[test]
fn pipes_and_poll_match_qemu() {
    procs_matches_qemu("pipe");
}

#[test]
fn signal_handlers_masks_and_frames_match_qemu() {
    procs_matches_qemu("signals");
}

#[test]
fn threads_mutexes_and_condvars_match_qemu() {
    procs_matches_qemu("threads");
}

#[test]
fn epoll_eventfd_and_process_groups_match_qemu() {
    procs_matches_qemu("events");
}

#[test]
fn execve_and_posix_spawn() {
    let prog = std::fs::read(guest("procs")).unwrap();
    let (status, out, err) = run(&[("bin/procs", 0o755, prog)], &["/bin/procs", "exec"]);
    assert_eq!(
        out,
        "exec-child arg pid_is_same_as_before=1\nexec'd child: exited 21\n\
         exec-child spawned pid_is_same_as_before=1\nposix_spawn child: exited 21\n\
         exec of a missing file: ENOENT\n",
        "stderr: {err}"
    );
    assert_eq!(status, 0);
}

#[test]
fn random_syscalls_in_forked_children_leave_the_kernel_standing() {
    let prog = std::fs::read(guest("syscall_fuzz")).unwrap();
    for seed in ["1", "2", "3", "4", "5", "6", "7", "8"] {
        let (status, out, err) = run(
            &[("bin/syscall_fuzz", 0o755, prog.clone())],
            &["/bin/syscall_fuzz", "6", "3000", seed],
        );
        assert_eq!(status, 0, "seed {seed}: stderr: {err}");
        assert!(
            out.ends_with("6 of 6 children ended and were reaped\n"),
            "seed {seed}: stdout ends {:?}",
            &out[out.len().saturating_sub(200)..]
        );
    }
}

/// A static riscv64 ELF whose code is `li a0, CODE; li a7, 93; ecall` (exit(CODE)) in one
/// RWX segment at `vaddr`, of type ET_EXEC (2) or ET_DYN (3).
fn exit_elf(e_type: u16, vaddr: u64, code: u8) -> Vec<u8> {
    let mut f = vec![0u8; 0x1000];
    let insns: [u32; 3] = [0x00000513 | (code as u32) << 20, 0x05d00893, 0x00000073];
    f[0..4].copy_from_slice(b"\x7fELF");
    (f[4], f[5], f[6]) = (2, 1, 1);
    f[16..18].copy_from_slice(&e_type.to_le_bytes());
    f[18..20].copy_from_slice(&243u16.to_le_bytes());
    f[20..24].copy_from_slice(&1u32.to_le_bytes());
    f[24..32].copy_from_slice(&(vaddr + 0x800).to_le_bytes());
    f[32..40].copy_from_slice(&64u64.to_le_bytes());
    f[52..54].copy_from_slice(&64u16.to_le_bytes());
    f[54..56].copy_from_slice(&56u16.to_le_bytes());
    f[56..58].copy_from_slice(&1u16.to_le_bytes());
    let ph = &mut f[64..120];
    ph[0..4].copy_from_slice(&1u32.to_le_bytes());
    ph[4..8].copy_from_slice(&7u32.to_le_bytes());
    ph[16..24].copy_from_slice(&vaddr.to_le_bytes());
    ph[32..40].copy_from_slice(&0x1000u64.to_le_bytes());
    ph[40..48].copy_from_slice(&0x2000u64.to_le_bytes());
    for (i, w) in insns.iter().enumerate() {
        f[0x800 + i * 4..0x804 + i * 4].copy_from_slice(&w.to_le_bytes());
    }
    f
}

#[test]
fn a_position_independent_program_linked_high_is_moved_down() {
    // Found by the elf_loader fuzz target: a PIE whose lowest address is above the load
    // base made the bias computation overflow (a panic in debug builds). Linux moves it
    // to the base by modular arithmetic; so does friscy now.
    for vaddr in [0x10000, 0x7000_0000, 0x40_0000_0000] {
        let (status, out, err) = run(&[("bin/pie", 0o755, exit_elf(3, vaddr, 42))], &["/bin/pie"]);
        assert_eq!(
            (status, out.as_str(), err.as_str()),
            (42, "", ""),
            "{vaddr:#x}"
        );
    }
    let (status, _, err) = run(
        &[("bin/exec", 0o755, exit_elf(2, 0x7000_0000, 7))],
        &["/bin/exec"],
    );
    assert_eq!(status, 7, "{err}");
}

/// Code written at run time and riscv_flush_icache (what V8 does). Expected values are
/// Linux's, not qemu-user's: qemu does not see a store through a second mapping of code
/// it has translated, and accepts any flags.
#[test]
fn code_written_at_run_time_runs_after_riscv_flush_icache() {
    let prog = std::fs::read(guest("jit_code")).unwrap();
    let (status, out, err) = run(&[("bin/jit_code", 0o755, prog)], &["/bin/jit_code"]);
    assert_eq!(
        out,
        "flush = 0\nfirst: 42\nrewritten in place: 43\ndouble mapped: 7\n\
         double mapped, rewritten: 8\nbad flags: -1 EINVAL\n",
        "stderr: {err}"
    );
    assert_eq!(status, 0);
}
