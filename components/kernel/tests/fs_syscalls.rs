//! The filesystem, memory and information syscalls of one process, checked against Linux:
//! each guest program from tests/guest/ runs natively in the kernel and under
//! `qemu-riscv64` (a real kernel underneath), and the outputs must be equal. The programs
//! print only what does not depend on the host (no inode numbers, devices or times taken
//! from the clock).

mod harness;

use harness::{guest, run_image, same_as_linux};

#[test]
fn attributes_match_linux() {
    same_as_linux("fs_attr");
}

#[test]
fn names_links_and_device_nodes_match_linux() {
    same_as_linux("fs_names");
}

#[test]
fn vector_io_and_copies_match_linux() {
    same_as_linux("fs_copy");
}

#[test]
fn record_ofd_and_flock_locks_match_linux() {
    same_as_linux("fs_locks");
}

#[test]
fn blocking_lock_requests_wait_for_another_process_like_linux() {
    same_as_linux("fs_lock_wait");
}

#[test]
fn hopeless_lock_waits_fail_and_execve_releases_close_on_exec_locks() {
    let prog = std::fs::read(guest("fs_lock_wait")).unwrap();
    let (status, out, err) = run_image(
        &[("bin/fs_lock_wait", 0o755, prog)],
        &["/bin/fs_lock_wait", "/w", "exec"],
    );
    assert_eq!((status, err.as_str()), (0, ""), "{out}");
    let tail: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("b = open"))
        .collect();
    assert_eq!(
        tail,
        [
            r#"b = open("f", O_RDWR) = 3"#,
            r#"c = open("f", O_RDWR) = 4"#,
            "flock(b, LOCK_EX) = 0",
            // Only this thread holds b: Linux would wait forever.
            "flock(c, LOCK_EX) = -1 EDEADLK",
            "lk(c, F_OFD_SETLK, F_WRLCK, 0, 1) = 0",
            "lk(b, F_OFD_SETLKW, F_WRLCK, 0, 1) = -1 EDEADLK",
            "x = open(\"f\", O_RDWR | O_CLOEXEC) = 3",
            "y = open(\"f\", O_RDWR | O_CLOEXEC) = 4",
            "flock(x, LOCK_EX) = 0",
            "lk(x, F_SETLK, F_WRLCK, 0, 5) = 0",
            "lk(y, F_OFD_SETLK, F_WRLCK, 6, 2) = 0",
            // After execve: the flock, the record lock and the OFD lock are all gone.
            r#"c = open("f", O_RDWR) = 3"#,
            "flock(c, LOCK_EX | LOCK_NB) = 0",
            "  -> type 2 start 0 len 0",
            "lk(c, F_GETLK, F_WRLCK, 0, 0) = 0",
            "  -> type 2 start 0 len 0",
            "lk(c, F_OFD_GETLK, F_WRLCK, 0, 0) = 0",
        ],
        "{out}"
    );
}

#[test]
fn mremap_and_msync_match_linux() {
    same_as_linux("mem_remap");
}

#[test]
fn groups_and_usage_match_linux() {
    same_as_linux("sys_info");
}

#[test]
fn hwprobe_reports_the_implemented_isa() {
    // qemu 7.2 has no riscv_hwprobe, so this is checked against the documented keys.
    let prog = std::fs::read(guest("sys_info")).unwrap();
    let (status, out, _) = run_image(&[("bin/i", 0o755, prog)], &["/bin/i", "probe"]);
    assert_eq!(status, 0);
    for want in [
        "syscall(258, p, 8, 0, NULL, 0) = 0",
        "hwprobe 3 = 0x1",  // BASE_BEHAVIOR_IMA
        "hwprobe 4 = 0x3b", // FD | C | ZBA | ZBB | ZBS
        "hwprobe -1 = 0",   // an unknown key
        "syscall(258, p, 1, 0, NULL, 1) = -1 EINVAL",
        "syscall(258, p, 1, sizeof cpus, &cpus, 0) = -1 EINVAL",
        "syscall(258, p, 1, sizeof cpus, &cpus, 0) = 0",
    ] {
        assert!(out.lines().any(|l| l == want), "no '{want}' in:\n{out}");
    }
}

#[test]
fn proc_and_dev_as_a_program_sees_them() {
    let prog = std::fs::read(guest("proc_self")).unwrap();
    let (status, out, err) = run_image(
        &[("bin/proc_self", 0o755, prog)],
        &["/bin/proc_self", "x y"],
    );
    assert_eq!((status, err.as_str()), (0, ""), "{out}");
    let want = "\
/proc/self/exe -> /bin/proc_self
/proc/self/cwd -> /bin
fd 3
/proc/self/fd/3 -> /bin/proc_self
/proc/self/fd/1 -> pipe:[1]
/dev/stdout -> /proc/self/fd/1
fds: . .. 0 1 2 3 4
cmdline: /bin/proc_self x y 
maps has exe: 1, stack: 1
stat: 1 (proc_self) R 0
status: Name:\tproc_self
auxv 6 = 4096
auxv 0 = 0
isa\t\t: rv64imafdc_zicntr_zicsr_zifencei_zba_zbb_zbs
mounts: overlay / overlay rw,relatime 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
/proc/self/fd/99: ENOENT
/dev/null: 20666 1:3
/dev/stdout is a fifo
dev: . .. null zero full random urandom tty fd stdin stdout stderr ptmx pts shm
via /dev/stdout
cwd /proc/1
open fd dir: 1
mkdir in /proc: ENOENT
";
    assert_eq!(out, want);
}

/// Whether the reference runs as root (needed to change ids, as friscy's guest starts
/// as root); says it skips `what` otherwise.
fn as_root(what: &str) -> bool {
    let uid = std::process::Command::new("id").arg("-u").output();
    let root = uid.is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !root {
        eprintln!("SKIPPED: the reference for {what} must run as root");
    }
    root
}

/// User and group ids, the setuid family, and the permission checks made with them
/// (open, access, create, remove in sticky directories, chmod/chown/utimensat ownership,
/// set-group-ID directories, protected hard links, kill). The reference must run as
/// root to change ids, as friscy's guest starts.
#[test]
fn credentials_and_permission_checks_match_linux() {
    if !as_root("credentials") {
        return;
    }
    same_as_linux("creds");
}

/// Credentials per thread: setfsuid and the raw set*id syscalls change one thread, glibc's
/// setresgid every thread (SIGSETXID), a new thread copies its maker's. As root.
#[test]
fn per_thread_credentials_match_linux() {
    if !as_root("per-thread credentials") {
        return;
    }
    same_as_linux("creds_threads");
}

/// prctl's child subreaper (orphans and already-exited orphans adopted by the nearest
/// ancestor that asked) and the options only recorded (timer slack, machine-check policy,
/// transparent huge pages, perf events), against the host's Linux: qemu-user refuses
/// these options itself.
#[test]
fn subreaper_and_recorded_prctl_options_match_linux() {
    harness::same_as_host_linux("proc_subreaper");
}

/// process_vm_readv/writev between a parent and its child and on itself, a fault partway,
/// and the errors, against the host's Linux (qemu-user does not offer them).
#[test]
fn process_vm_copies_match_linux() {
    harness::same_as_host_linux("mem_process_vm");
}

/// openat2: struct open_how's checks and the RESOLVE_* restrictions (beneath, in root, no
/// symlinks, no magic links, no mount crossing), against the host's Linux (qemu-user 7.2
/// does not offer openat2).
#[test]
fn openat2_matches_linux() {
    harness::same_as_host_linux("fs_openat2");
}

/// Capability sets through capget/capset, prctl (bounding, ambient, securebits, keep
/// capabilities), the setuid family and execve, and the checks that use them (a root
/// without CAP_DAC_OVERRIDE). As root, with binfmt_misc for the exec'd children.
#[test]
fn capabilities_match_linux() {
    if !as_root("capabilities") || !harness::qemu_execs_children() {
        return;
    }
    same_as_linux("caps");
}

/// personality, getcpu, membarrier, the mlock family, mincore, and signals queued with
/// rt_sigqueueinfo/rt_tgsigqueueinfo (and kill's si_uid): as root, since part of it
/// runs as another user.
#[test]
fn personality_barriers_locks_and_queued_signals_match_linux() {
    if !as_root("personality, locks and signals") {
        return;
    }
    same_as_linux("sys_misc");
}

/// inotify: the events of creates, writes, reads, attribute changes, renames, links and
/// removals in a watched directory and on a watched file, the watch options, and the
/// descriptor's read sizes, FIONREAD and poll.
#[test]
fn inotify_events_match_linux() {
    same_as_linux("fs_inotify");
}

/// chroot: absolute paths, `..` and absolute symlinks inside the new root, a child's
/// execve there, the working directory left outside, and EPERM without CAP_SYS_CHROOT.
#[test]
fn chroot_matches_linux() {
    if !as_root("chroot") || !harness::qemu_execs_children() {
        return;
    }
    same_as_linux("fs_chroot");
}

/// clone3, which qemu-user 7.2 lacks (ENOSYS), so checked against what Linux documents:
/// a fork-like child, CLONE_CLEAR_SIGHAND (handlers reset, ignored signals kept), the
/// argument checks, and glibc's threads and posix_spawn, which use clone3 when present.
#[test]
fn clone3_creates_processes_and_threads_as_linux_documents() {
    let prog = std::fs::read(guest("clone3")).unwrap();
    let (status, out, err) = run_image(&[("bin/clone3", 0o755, prog)], &["/bin/clone3"]);
    assert_eq!((status, err.as_str()), (0, ""), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "child exited 7",
            "child exited 11",
            "clone3((struct clone_args *)big, 32) = -1 EINVAL",
            "clone3((struct clone_args *)big, 4097) = -1 E2BIG",
            "clone3((struct clone_args *)big, 128) = -1 E2BIG",
            "clone3(&bad, sizeof bad) = -1 EINVAL",
            "clone3(&bad, sizeof bad) = -1 EINVAL",
            "clone3(&bad, sizeof bad) = -1 EINVAL",
            "clone3(&bad, sizeof bad) = -1 EINVAL",
            "pthread_create(&t, NULL, thread, (void *)41) = 0",
            "pthread_join(t, &ret) = 0",
            "thread returned 42",
            "posix_spawn = 0",
            "child exited 5",
        ],
        "{out}"
    );
}

#[test]
fn memfd_create_files_match_linux() {
    same_as_linux("mem_memfd");
}

#[test]
fn private_file_mappings_and_reexec_match_linux() {
    // The program execs itself: under qemu-riscv64 that takes binfmt_misc.
    if !harness::qemu_execs_children() {
        return;
    }
    same_as_linux("mem_filemap");
}
