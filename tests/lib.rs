//! Helpers for friscy's end-to-end tests: locating the build outputs of
//! `scripts/build.sh` and running commands with captured output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root. cargo sets CARGO_MANIFEST_DIR when it runs a test; that wins over
/// the compile-time value, since checkouts sharing one target dir (CI keeps it outside the
/// clone) can reuse each other's test binaries.
pub fn root() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .parent()
    .unwrap()
    .to_path_buf()
}

/// A file in build/, which `scripts/build.sh` must have made.
pub fn built(name: &str) -> PathBuf {
    let p = root().join("build").join(aot_swap(name));
    assert!(
        p.exists(),
        "{} is missing: run scripts/build.sh first",
        p.display()
    );
    p
}

/// Whether tests run on the AOT exec backend (`FRISCY_EXEC=aot`): then the standard
/// compositions are swapped for their rv2wasm builds (`scripts/build.sh` makes both).
pub fn aot() -> bool {
    std::env::var("FRISCY_EXEC").is_ok_and(|v| v == "aot")
}

fn aot_swap(name: &str) -> &str {
    match name {
        "friscy.wasm" if aot() => "friscy-aot.wasm",
        "friscy-open.wasm" if aot() => "friscy-aot-open.wasm",
        _ => name,
    }
}

/// `friscy` with the open component the backend in use calls for.
pub fn friscy_cmd() -> Command {
    let mut cmd = Command::new(built("friscy"));
    if aot() {
        cmd.env("FRISCY_COMPONENT", built("friscy-open.wasm"));
    }
    cmd
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
    run(friscy_cmd()
        .arg("run")
        .arg("--rootfs")
        .arg(image)
        .args(extra)
        .arg("--")
        .args(args))
}

/// A line on the test process's real stderr, past libtest's output capture (which takes
/// only `print!` and `eprint!`): for SKIPPED notes, which must be seen even when the test
/// passes.
pub fn loud(msg: &str) {
    use std::io::Write;
    let mut e = std::io::stderr().lock();
    writeln!(e, "{msg}").ok();
}

/// Like [`run`], with stdin from /dev/null and a time limit: a command still running after
/// `limit` is killed, and the result has no status and says so on stderr.
pub fn run_limited(cmd: &mut Command, limit: std::time::Duration) -> Run {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let pump = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            r.read_to_end(&mut v).ok();
            v
        })
    };
    let out = pump(Box::new(child.stdout.take().unwrap()));
    let err = pump(Box::new(child.stderr.take().unwrap()));
    let start = std::time::Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().expect("waiting for a child") {
            break s;
        }
        if start.elapsed() > limit {
            timed_out = true;
            child.kill().ok();
            break child.wait().expect("waiting for a killed child");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let mut r: Run = Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
    .into();
    if timed_out {
        r.status = None;
        r.stderr += &format!("\n[killed after {} s]\n", limit.as_secs());
    }
    r
}

/// The cache directory for fixtures and build products ($FRISCY_CACHE or ~/.cache/friscy).
pub fn cache_dir() -> PathBuf {
    std::env::var_os("FRISCY_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is not set")).join(".cache/friscy")
        })
}

/// An uncompressed copy of a .tar.gz in the fixture cache (made once, keyed by the
/// source's path, size and mtime); a plain .tar is returned as it is.
pub fn uncompressed(tar: &Path) -> PathBuf {
    use std::hash::{Hash, Hasher};
    if tar.extension().is_none_or(|e| e != "gz") {
        return tar.to_path_buf();
    }
    let meta = std::fs::metadata(tar).unwrap_or_else(|e| panic!("{}: {e}", tar.display()));
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        std::fs::canonicalize(tar).unwrap(),
        meta.len(),
        meta.modified().ok(),
    )
        .hash(&mut h);
    let stem = tar.file_stem().unwrap().to_string_lossy();
    let dir = cache_dir().join("fixtures");
    let out = dir.join(format!("{stem}-{:016x}.tar", h.finish()).replace(".tar-", "-"));
    // One gunzip at a time in this process; across processes the rename is atomic.
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    if !out.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        let part = out.with_extension(format!("part{}", std::process::id()));
        let r = run(Command::new("gzip")
            .arg("-dc")
            .arg(tar)
            .stdout(std::fs::File::create(&part).unwrap()));
        assert_eq!(r.status, Some(0), "gunzip {}: {}", tar.display(), r.stderr);
        std::fs::rename(&part, &out).unwrap();
    }
    out
}

/// The Alpine 3.20 riscv64 minirootfs (musl, busybox) as an uncompressed tar: from
/// $FRISCY_ALPINE_TAR or the shared fixture beside the repository. None (and a loud
/// SKIPPED line) when there is none.
pub fn alpine_tar() -> Option<PathBuf> {
    let path = std::env::var_os("FRISCY_ALPINE_TAR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            root().join("../shared/fixtures/alpine-minirootfs-3.20.3-riscv64.tar.gz")
        });
    if !path.exists() {
        loud(&format!(
            "SKIPPED: no Alpine rootfs at {} (set FRISCY_ALPINE_TAR)",
            path.display()
        ));
        return None;
    }
    Some(uncompressed(&path))
}

/// The Debian trixie riscv64 (glibc) rootfs that scripts/debian-rootfs.sh builds: from
/// $FRISCY_DEBIAN_TAR or that script's cache. None (and a loud SKIPPED line) when absent.
pub fn debian_tar() -> Option<PathBuf> {
    let path = std::env::var_os("FRISCY_DEBIAN_TAR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("fixtures/debian-trixie-riscv64.tar"));
    if !path.exists() {
        loud(&format!(
            "SKIPPED: no Debian rootfs at {} (run scripts/debian-rootfs.sh, or set FRISCY_DEBIAN_TAR)",
            path.display()
        ));
        return None;
    }
    Some(uncompressed(&path))
}

/// `image` with the guest programs of build/guest/ (scripts/build.sh) added at
/// /opt/friscy/bin: a copy made once in the fixture cache, keyed by the image and the
/// programs (their names, sizes and mtimes), so the differential tests can run the same
/// static test program on Linux and in friscy inside a real distribution.
pub fn with_guest_programs(image: &Path) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let guests = built("guest");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&guests)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let stamp = |p: &Path, h: &mut std::collections::hash_map::DefaultHasher| {
        let m = std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        (p, m.len(), m.modified().ok()).hash(h);
    };
    stamp(&std::fs::canonicalize(image).unwrap(), &mut h);
    for n in &names {
        stamp(n, &mut h);
    }
    let stem = image.file_stem().unwrap().to_string_lossy();
    let dir = cache_dir().join("fixtures");
    let out = dir.join(format!("{stem}-guests-{:016x}.tar", h.finish()));
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    if !out.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        let part = out.with_extension(format!("part{}", std::process::id()));
        std::fs::copy(image, &part).unwrap();
        // Staged as opt/friscy/bin/* so the directories get entries of their own.
        let stage = dir.join(format!("guests-stage-{}", std::process::id()));
        let bin = stage.join("opt/friscy/bin");
        std::fs::create_dir_all(&bin).unwrap();
        for n in &names {
            std::fs::copy(n, bin.join(n.file_name().unwrap())).unwrap();
        }
        // GNU tar appends before the archive's end-of-archive blocks.
        let r = run(Command::new("tar")
            .arg("--append")
            .arg("-f")
            .arg(&part)
            .args(["--owner=0", "--group=0", "--numeric-owner"])
            .arg("-C")
            .arg(&stage)
            .arg("opt"));
        std::fs::remove_dir_all(&stage).ok();
        assert_eq!(r.status, Some(0), "tar --append: {}", r.stderr);
        std::fs::rename(&part, &out).unwrap();
    }
    out
}

/// The environment both friscy and the reference give a guest in the differential tests
/// (scripts/reference.sh adds exactly these; friscy adds all three itself too, as
/// docker run does).
pub const GUEST_ENV: &[&str] = &[
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "HOSTNAME=friscy",
];

/// Whether scripts/reference.sh can run commands in `image` here (root, qemu-user-static,
/// binfmt_misc with flag F, the extracted image). Checked once per image; Err says why not.
pub fn reference_ready(image: &Path) -> Result<(), String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static READY: OnceLock<Mutex<HashMap<PathBuf, Result<(), String>>>> = OnceLock::new();
    let mut ready = READY.get_or_init(Default::default).lock().unwrap();
    ready
        .entry(image.to_path_buf())
        .or_insert_with(|| {
            let r = run(Command::new(root().join("scripts/reference.sh"))
                .arg("--check")
                .arg(image));
            loud(r.stderr.trim_end());
            match r.status {
                Some(0) => Ok(()),
                _ => Err(r
                    .stderr
                    .lines()
                    .find_map(|l| l.strip_prefix("reference: UNAVAILABLE: "))
                    .unwrap_or(r.stderr.trim())
                    .to_string()),
            }
        })
        .clone()
}

/// Runs `argv` in `image` the faithful way (scripts/reference.sh: a chroot with
/// qemu-riscv64-static under binfmt_misc), with [`GUEST_ENV`], killed after `limit`.
/// Call [`reference_ready`] first.
pub fn reference(image: &Path, argv: &[&str], limit: std::time::Duration) -> Run {
    run_limited(
        Command::new(root().join("scripts/reference.sh"))
            .env(
                "FRISCY_REFERENCE_TIMEOUT",
                (limit.as_secs() + 1).to_string(),
            )
            .arg(image)
            .arg("--")
            .args(argv),
        limit + std::time::Duration::from_secs(10),
    )
}

/// `friscy run --rootfs IMAGE -e GUEST_ENV... [extra...] -- ARGV`, killed after `limit`.
pub fn friscy_limited(
    image: &Path,
    extra: &[&str],
    argv: &[&str],
    limit: std::time::Duration,
) -> Run {
    let mut cmd = friscy_cmd();
    cmd.arg("run").arg("--rootfs").arg(image);
    for kv in GUEST_ENV {
        cmd.arg("-e").arg(kv);
    }
    run_limited(cmd.args(extra).arg("--").args(argv), limit)
}

/// The stdout of a run that must have succeeded (else a panic showing both streams).
pub fn ok(r: &Run) -> &str {
    assert_eq!(
        r.status,
        Some(0),
        "stdout: {}\nstderr: {}",
        r.stdout,
        r.stderr
    );
    &r.stdout
}

/// A TCP server on 127.0.0.1 that answers each connection with "echo: " and what it read
/// up to end of file (the network tests compare guests' output against it).
pub fn echo_server() -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            c.set_read_timeout(Some(std::time::Duration::from_secs(60)))
                .ok();
            let mut got = Vec::new();
            let _ = c.read_to_end(&mut got);
            let _ = c.write_all(&[b"echo: ".as_slice(), &got].concat());
        }
    });
    port
}

/// A `docker save` tarball (the legacy layout: manifest.json, a config, one layer) of the
/// Alpine rootfs with this image config. As docker writes it: the config is named by its
/// digest and lists the layer's diff_id (friscy-pack verifies both).
pub fn docker_save(alpine: &Path, out: &Path, config: &str) {
    use sha2::{Digest, Sha256};
    let hex = |d: &[u8]| -> String { d.iter().map(|b| format!("{b:02x}")).collect() };
    let layer = std::fs::read(alpine).unwrap();
    let diff_id = hex(&Sha256::digest(&layer));
    let image = format!(
        r#"{{"architecture":"riscv64","os":"linux","config":{config},"rootfs":{{"type":"layers","diff_ids":["sha256:{diff_id}"]}}}}"#
    );
    let config_name = format!("{}.json", hex(&Sha256::digest(image.as_bytes())));
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    };
    add("0123abcd/layer.tar", &layer);
    add(&config_name, image.as_bytes());
    let manifest = format!(
        r#"[{{"Config":"{config_name}","RepoTags":["app:1"],"Layers":["0123abcd/layer.tar"]}}]"#
    );
    add("manifest.json", manifest.as_bytes());
    std::io::Write::flush(&mut b.into_inner().unwrap()).unwrap();
}

/// A fresh temporary directory (`friscy-test-NAME-PID`), removed on drop.
pub struct Temp(pub PathBuf);

impl Temp {
    pub fn new(name: &str) -> Temp {
        let d = std::env::temp_dir().join(format!("friscy-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Temp(d)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
