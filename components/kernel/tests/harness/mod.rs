//! Running guest programs natively in the kernel (exec and vfs linked as libraries) with a
//! host that captures output, and under qemu-riscv64 for reference.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use friscy_kernel::{Host, Kernel, Stdio};

#[derive(Default)]
struct Captured {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

struct TestHost(Rc<RefCell<Captured>>);

impl Host for TestHost {
    fn read_stdin(&mut self, _max: usize) -> Option<Vec<u8>> {
        Some(Vec::new())
    }
    fn write(&mut self, stream: Stdio, data: &[u8]) -> Result<(), friscy_abi::Errno> {
        let mut c = self.0.borrow_mut();
        match stream {
            Stdio::Err => c.stderr.extend_from_slice(data),
            _ => c.stdout.extend_from_slice(data),
        }
        Ok(())
    }
    fn wall_clock(&self) -> (i64, u32) {
        (1_700_000_000, 0)
    }
    /// Starts at 12.34 s (fixed output for /proc/uptime-like reads) and advances for real,
    /// so that guest sleeps and timeouts end.
    fn monotonic_ns(&self) -> u64 {
        12_340_000_000 + START.with(|s| s.elapsed().as_nanos() as u64)
    }
    fn random(&mut self, buf: &mut [u8]) {
        buf.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
    }
    fn diagnostic(&mut self, line: &str) {
        let mut c = self.0.borrow_mut();
        c.stderr.extend_from_slice(line.as_bytes());
        c.stderr.push(b'\n');
    }
    fn wait(&mut self, _stdin: bool, deadline_ns: Option<u64>, _pollables: Vec<u32>) {
        if let Some(d) = deadline_ns {
            let now = self.monotonic_ns();
            std::thread::sleep(std::time::Duration::from_nanos(d.saturating_sub(now)));
        }
    }
}

thread_local! {
    static START: std::time::Instant = std::time::Instant::now();
}

/// Compile a guest program from tests/guest/ (once per test process).
pub fn guest(name: &str) -> PathBuf {
    let root = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../..");
    let out = std::env::temp_dir().join(format!("friscy-fs-{}-{name}", std::process::id()));
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

/// A minimal ustar archive of regular files: (path, mode, contents).
pub fn tar(files: &[(&str, u32, Vec<u8>)]) -> Vec<u8> {
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

/// Run `argv` in a kernel over an image of `files`: (status, stdout, stderr).
pub fn run_image(files: &[(&str, u32, Vec<u8>)], argv: &[&str]) -> (u8, String, String) {
    run_image_limited(files, argv, &[])
}

/// `run_image` with limits set as the `FRISCY_*` variables set them (limits.rs).
pub fn run_image_limited(
    files: &[(&str, u32, Vec<u8>)],
    argv: &[&str],
    limits: &[(&str, &str)],
) -> (u8, String, String) {
    let captured = Rc::new(RefCell::new(Captured::default()));
    let vfs = friscy_vfs::Vfs::new(tar(files)).expect("index the test image");
    let mut k = Kernel::new(
        Box::new(friscy_exec::Machines::new()),
        Box::new(vfs),
        Box::new(TestHost(captured.clone())),
    );
    k.trace = std::env::var_os("FRISCY_TRACE").is_some();
    let mut l = friscy_kernel::limits::Limits::default();
    for (key, value) in limits {
        assert_eq!(l.set(key, value), Ok(true), "{key}={value}");
    }
    k.apply_limits(l);
    let status = k.run_command(argv.iter().map(|a| a.as_bytes().to_vec()).collect(), vec![]);
    let c = captured.borrow();
    (
        status,
        String::from_utf8_lossy(&c.stdout).into(),
        String::from_utf8_lossy(&c.stderr).into(),
    )
}

/// Whether a program under plain qemu-riscv64 can exec riscv64 children: only with
/// qemu registered in binfmt_misc (test.sh has `scripts/reference.sh --binfmt` do it).
/// Without, says SKIPPED on the real stderr.
#[allow(dead_code)]
pub fn qemu_execs_children() -> bool {
    let ok = std::fs::read_to_string("/proc/sys/fs/binfmt_misc/qemu-riscv64")
        .is_ok_and(|e| e.starts_with("enabled"));
    if !ok {
        use std::io::Write;
        writeln!(
            std::io::stderr().lock(),
            "SKIPPED: qemu-riscv64 is not in binfmt_misc, so its programs cannot exec \
             riscv64 children (scripts/reference.sh --binfmt registers it)"
        )
        .ok();
    }
    ok
}

/// Run a guest binary under qemu-riscv64: (status, stdout).
pub fn qemu(binary: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new("qemu-riscv64")
        .arg(binary)
        .args(args)
        .output()
        .expect("qemu-riscv64 (scripts/setup.sh installs it)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
    )
}

/// Run the guest program `name` in friscy (working directory /w) and under qemu (a fresh
/// host directory), and assert the same output line for line and a zero exit status on
/// both: the differential tests of single syscall families.
#[allow(dead_code)] // each test crate compiles the harness; native.rs does not use this
pub fn same_as_linux(name: &str) {
    let dir = std::env::temp_dir().join(format!("friscy-q-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    compare(name, &["/w"], &[dir.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).ok();
}

/// `same_as_linux` for a program that takes arguments (the same on both sides; the
/// image has an empty /tmp).
#[allow(dead_code)]
pub fn same_as_linux_with(name: &str, args: &[&str]) {
    compare(name, args, args);
}

/// `same_as_linux` with the host's own Linux as the reference: the program compiled for
/// the host (`cc`) and run natively, for syscalls that qemu-user 7.2 refuses itself (some
/// prctl options). Only for programs whose output does not depend on the architecture.
#[allow(dead_code)]
pub fn same_as_host_linux(name: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let exe = std::env::temp_dir().join(format!("friscy-host-{}-{name}", std::process::id()));
    let status = Command::new("cc")
        .args(["-O2", "-pthread", "-o"])
        .arg(&exe)
        .arg(root.join(format!("tests/guest/{name}.c")))
        .status()
        .expect("cc");
    assert!(status.success());
    let out = Command::new(&exe).output().expect("the host build");
    std::fs::remove_file(&exe).ok();
    let reference = (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    );
    compare_with(name, &[], reference, "linux");
}

fn compare(name: &str, args: &[&str], qemu_args: &[&str]) {
    let reference = qemu(&guest(name), qemu_args);
    compare_with(name, args, reference, "qemu");
}

fn compare_with(name: &str, args: &[&str], reference: (i32, String), what: &str) {
    let prog = std::fs::read(guest(name)).unwrap();
    let path = format!("bin/{name}");
    let argv: Vec<String> = std::iter::once(format!("/{path}"))
        .chain(args.iter().map(|a| a.to_string()))
        .collect();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let (status, out, err) = run_image(
        &[(&path, 0o755, prog), ("tmp/.keep", 0o644, Vec::new())],
        &argv,
    );
    let (qstatus, qout) = reference;
    assert_eq!(err, "", "{name}: friscy's stderr");
    let diff: Vec<String> = out
        .lines()
        .zip(qout.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("friscy: {a}\n  {what}: {b}"))
        .collect();
    assert!(
        diff.is_empty(),
        "{name} differs from Linux:\n{}",
        diff.join("\n")
    );
    assert_eq!(out.lines().count(), qout.lines().count(), "{name}: {out}");
    assert_eq!((status as i32, qstatus), (0, 0));
}
