//! The kernel run natively (no Wasm): exec and vfs linked as libraries, a host that
//! captures output, and real riscv64 programs from tests/guest/ in a tar image built here.
//! This is the no-Wasm mode DESIGN.md describes, and the fastest way to debug the kernel.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use friscy_kernel::host::BrokenPipe;
use friscy_kernel::{Host, Kernel, Stdio};

#[derive(Default)]
struct Captured {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

struct TestHost(Rc<RefCell<Captured>>);

thread_local! {
    static START: std::time::Instant = std::time::Instant::now();
}

impl Host for TestHost {
    fn read_stdin(&mut self, _max: usize) -> Option<Vec<u8>> {
        Some(Vec::new())
    }
    fn write(&mut self, stream: Stdio, data: &[u8]) -> Result<(), BrokenPipe> {
        let mut c = self.0.borrow_mut();
        match stream {
            Stdio::Err => c.stderr.extend_from_slice(data),
            _ => c.stdout.extend_from_slice(data),
        }
        Ok(())
    }
    fn is_terminal(&self, _: Stdio) -> bool {
        false
    }
    fn wall_clock(&self) -> (i64, u32) {
        (1_700_000_000, 0)
    }
    fn monotonic_ns(&self) -> u64 {
        START.with(|s| s.elapsed().as_nanos() as u64)
    }
    fn random(&mut self, buf: &mut [u8]) {
        buf.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
    }
    fn diagnostic(&mut self, line: &str) {
        let mut c = self.0.borrow_mut();
        c.stderr.extend_from_slice(line.as_bytes());
        c.stderr.push(b'\n');
    }
    fn wait(&mut self, _stdin: bool, deadline_ns: Option<u64>) {
        if let Some(d) = deadline_ns {
            let now = self.monotonic_ns();
            std::thread::sleep(std::time::Duration::from_nanos(d.saturating_sub(now)));
        }
    }
}

/// Compile a guest program from tests/guest/ (once per test run).
fn guest(name: &str) -> PathBuf {
    let root = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../..");
    let out = std::env::temp_dir().join(format!("friscy-native-{}-{name}", std::process::id()));
    if !out.exists() {
        // Tests run in parallel: compile to a private name, then rename into place.
        let tmp = out
            .with_extension(format!("{:?}", std::thread::current().id()).replace(['(', ')'], ""));
        let status = Command::new("riscv64-linux-gnu-gcc")
            .args(["-O2", "-static", "-pthread", "-o"])
            .arg(&tmp)
            .arg(root.join(format!("tests/guest/{name}.c")))
            .status()
            .expect("riscv64-linux-gnu-gcc (scripts/setup.sh installs it)");
        assert!(status.success());
        std::fs::rename(&tmp, &out).unwrap();
    }
    out
}

/// A minimal ustar archive: (path, mode, contents) regular files.
fn tar(files: &[(&str, u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, mode, data) in files {
        let mut h = [0u8; 512];
        h[..path.len()].copy_from_slice(path.as_bytes());
        let octal = |h: &mut [u8; 512], off: usize, len: usize, v: u64| {
            let s = format!("{v:0width$o}", width = len - 1);
            h[off..off + len - 1].copy_from_slice(s.as_bytes());
        };
        octal(&mut h, 100, 8, *mode as u64);
        octal(&mut h, 108, 8, 0);
        octal(&mut h, 116, 8, 0);
        octal(&mut h, 124, 12, data.len() as u64);
        octal(&mut h, 136, 12, 0);
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(512), 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn run(files: &[(&str, u32, Vec<u8>)], argv: &[&str]) -> (u8, String, String) {
    let captured = Rc::new(RefCell::new(Captured::default()));
    let vfs = friscy_vfs::Vfs::new(tar(files)).expect("index the test image");
    let mut k = Kernel::new(
        Box::new(friscy_exec::Machines::new()),
        Box::new(vfs),
        Box::new(TestHost(captured.clone())),
    );
    k.trace = std::env::var_os("FRISCY_TRACE").is_some();
    let status = k.run_command(argv.iter().map(|a| a.as_bytes().to_vec()).collect(), vec![]);
    let c = captured.borrow();
    (
        status,
        String::from_utf8_lossy(&c.stdout).into(),
        String::from_utf8_lossy(&c.stderr).into(),
    )
}

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

/// The same program under qemu-riscv64, the reference: (status, stdout).
fn qemu(prog: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new("qemu-riscv64")
        .arg(prog)
        .args(args)
        .output()
        .expect("qemu-riscv64 (scripts/setup.sh installs it)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
    )
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
