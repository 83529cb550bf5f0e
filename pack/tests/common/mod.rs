//! Test helpers: images built here from the Alpine minirootfs (and Debian's rootfs) in
//! every input format friscy-pack takes, a reference extraction of layers with GNU tar,
//! and runs of friscy-pack and `wasmtime run`, each bounded in time.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

pub struct Run {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Run with a time limit (`timeout`), so a hung guest fails the test instead of the suite.
pub fn run(cmd: &mut Command, limit_s: u32) -> Run {
    let mut full = Command::new("timeout");
    full.arg(limit_s.to_string())
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => full.env(k, v),
            None => full.env_remove(k),
        };
    }
    let out = full
        .stdin(Stdio::null())
        .output()
        .expect("running a command");
    Run {
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn pack(args: &[&str], cache: &Path) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_friscy-pack"));
    c.args(args).arg("--quiet").env("FRISCY_CACHE", cache);
    run(&mut c, 600)
}

pub fn tool(name: &str) -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let p = home.join(".cargo/bin").join(name);
    if p.exists() { p } else { PathBuf::from(name) }
}

/// `wasmtime run [--env K=V]... APP [-- ARGS...]`.
pub fn wasmtime(app: &Path, env: &[&str], args: &[&str]) -> Run {
    let mut c = Command::new(tool("wasmtime"));
    c.arg("run");
    for e in env {
        c.arg("--env").arg(e);
    }
    c.arg(app);
    if !args.is_empty() {
        c.arg("--").args(args);
    }
    run(&mut c, 300)
}

pub fn alpine() -> Option<Vec<u8>> {
    let path = std::env::var_os("FRISCY_ALPINE_TAR")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/work/shared/fixtures/alpine-minirootfs-3.20.3-riscv64.tar.gz".into());
    let Ok(data) = std::fs::read(&path) else {
        eprintln!(
            "SKIPPED: Alpine rootfs not found at {} (set FRISCY_ALPINE_TAR)",
            path.display()
        );
        return None;
    };
    Some(gunzip_if_needed(data))
}

pub fn debian() -> Option<Vec<u8>> {
    let path = std::env::var_os("FRISCY_DEBIAN_TAR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default();
            home.join(".cache/friscy/fixtures/debian-trixie-riscv64.tar")
        });
    match std::fs::read(&path) {
        Ok(d) => Some(d),
        Err(_) => {
            eprintln!(
                "SKIPPED: Debian rootfs not found at {} (scripts/debian-rootfs.sh makes it)",
                path.display()
            );
            None
        }
    }
}

pub fn gunzip_if_needed(data: Vec<u8>) -> Vec<u8> {
    if data.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&data[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        data
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 1).unwrap()
}

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

/// A layer tar built entry by entry.
pub struct LayerBuilder(tar::Builder<Vec<u8>>);

impl LayerBuilder {
    pub fn new() -> Self {
        LayerBuilder(tar::Builder::new(Vec::new()))
    }
    fn header(kind: tar::EntryType, mode: u32, uid: u64, mtime: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(uid);
        h.set_mtime(mtime);
        h.set_size(0);
        h
    }
    pub fn dir(mut self, path: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Directory, 0o755, 0, 1_600_000_000);
        self.0.append_data(&mut h, path, std::io::empty()).unwrap();
        self
    }
    pub fn file(self, path: &str, data: &[u8]) -> Self {
        self.file_owned(path, data, 0o644, 0)
    }
    pub fn file_owned(mut self, path: &str, data: &[u8], mode: u32, uid: u64) -> Self {
        self.file_bytes(path.as_bytes(), data, mode, uid);
        self
    }
    pub fn file_bytes(&mut self, path: &[u8], data: &[u8], mode: u32, uid: u64) {
        let mut h = Self::header(tar::EntryType::Regular, mode, uid, 1_650_000_000);
        h.set_size(data.len() as u64);
        let p = Path::new(std::ffi::OsStr::from_bytes(path));
        self.0.append_data(&mut h, p, data).unwrap();
    }
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0, 1_650_000_000);
        self.0.append_link(&mut h, path, target).unwrap();
        self
    }
    pub fn hardlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Link, 0o644, 0, 1_650_000_000);
        self.0.append_link(&mut h, path, target).unwrap();
        self
    }
    pub fn chardev(mut self, path: &str, major: u32, minor: u32) -> Self {
        let mut h = Self::header(tar::EntryType::Char, 0o666, 0, 1_650_000_000);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.0.append_data(&mut h, path, std::io::empty()).unwrap();
        self
    }
    /// A whiteout for `path` (`dir/.wh.name`).
    pub fn whiteout(self, path: &str) -> Self {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let wh = if dir.is_empty() {
            format!(".wh.{name}")
        } else {
            format!("{dir}/.wh.{name}")
        };
        self.file(&wh, b"")
    }
    pub fn opaque(self, dir: &str) -> Self {
        self.file(&format!("{dir}/.wh..wh..opq"), b"")
    }
    pub fn finish(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// The image config JSON for riscv64 with these uncompressed layers.
pub fn config_json(arch: &str, run: serde_json::Value, layers: &[Vec<u8>]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": arch, "os": "linux", "config": run,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

/// An OCI layout in `dir`; layers compressed as given ("gzip", "zstd" or "none").
/// Returns the manifest's descriptor JSON (for an index).
pub fn oci_manifest(
    blobs: &mut BTreeMap<String, Vec<u8>>,
    config: &[u8],
    layers: &[Vec<u8>],
    compress: &[&str],
) -> (String, Vec<u8>) {
    let cdig = sha256(config);
    blobs.insert(cdig.clone(), config.to_vec());
    let mut descs = Vec::new();
    for (l, c) in layers.iter().zip(compress.iter().cycle()) {
        let (data, mt) = match *c {
            "gzip" => (gzip(l), "application/vnd.oci.image.layer.v1.tar+gzip"),
            "zstd" => (zstd(l), "application/vnd.oci.image.layer.v1.tar+zstd"),
            _ => (l.clone(), "application/vnd.oci.image.layer.v1.tar"),
        };
        let d = sha256(&data);
        descs.push(serde_json::json!({"mediaType": mt, "digest": d, "size": data.len()}));
        blobs.insert(d, data);
    }
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdig, "size": config.len()},
        "layers": descs,
    }))
    .unwrap();
    let mdig = sha256(&manifest);
    blobs.insert(mdig.clone(), manifest.clone());
    (mdig, manifest)
}

pub fn write_oci_dir(dir: &Path, blobs: &BTreeMap<String, Vec<u8>>, index: &[u8]) {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(dir.join("index.json"), index).unwrap();
    for (d, data) in blobs {
        std::fs::write(dir.join("blobs/sha256").join(&d[7..]), data).unwrap();
    }
}

/// A tar of a directory's contents (GNU tar, so the test does not trust the tar crate).
pub fn tar_dir(dir: &Path, out: &Path) {
    let r = run(
        Command::new("tar")
            .arg("-cf")
            .arg(out)
            .arg("-C")
            .arg(dir)
            .arg("."),
        60,
    );
    assert_eq!(r.status, Some(0), "{}", r.stderr);
}

/// Extract layers in order with GNU tar, applying whiteouts as image-spec layer.md says:
/// before a layer, delete what its `.wh.NAME` entries name and empty its opaque dirs.
pub fn reference_extract(layers: &[Vec<u8>], dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for layer in layers {
        let mut archive = tar::Archive::new(&layer[..]);
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            let path = e.path_bytes().into_owned();
            let p = Path::new(std::ffi::OsStr::from_bytes(&path));
            let name = p
                .file_name()
                .map(|n| n.as_bytes().to_vec())
                .unwrap_or_default();
            let parent = dir.join(p.parent().unwrap_or(Path::new("")));
            if name == b".wh..wh..opq" {
                if let Ok(rd) = std::fs::read_dir(&parent) {
                    for c in rd {
                        let c = c.unwrap().path();
                        if c.is_dir() && !c.is_symlink() {
                            std::fs::remove_dir_all(&c).unwrap();
                        } else {
                            std::fs::remove_file(&c).unwrap();
                        }
                    }
                }
            } else if let Some(hidden) = name.strip_prefix(b".wh.") {
                let t = parent.join(std::ffi::OsStr::from_bytes(hidden));
                if t.is_dir() && !t.is_symlink() {
                    std::fs::remove_dir_all(&t).unwrap();
                } else {
                    let _ = std::fs::remove_file(&t);
                }
            }
        }
        let mut child = Command::new("tar")
            .args(["-xpf", "-", "--numeric-owner", "--exclude=.wh.*", "-C"])
            .arg(dir)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(layer).unwrap();
        assert!(
            child.wait().unwrap().success(),
            "reference extraction failed"
        );
    }
}

pub fn extract(tar: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let r = run(
        Command::new("tar")
            .args(["-xpf"])
            .arg(tar)
            .args(["--numeric-owner", "-C"])
            .arg(dir),
        120,
    );
    assert_eq!(r.status, Some(0), "{}", r.stderr);
}

/// Everything about each path that extraction must reproduce: type, mode, owner, mtime
/// (not for directories: extracting later layers touches them), contents, link targets,
/// device numbers, and which paths share an inode (hard links).
pub fn describe(root: &Path) -> BTreeMap<Vec<u8>, String> {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .as_os_str()
                .as_bytes()
                .to_vec();
            let ft = m.file_type();
            let what = if ft.is_dir() {
                stack.push(p.clone());
                "dir".to_string()
            } else if ft.is_symlink() {
                format!("symlink -> {:?}", std::fs::read_link(&p).unwrap())
            } else if ft.is_file() {
                if m.nlink() > 1 {
                    inodes.entry(m.ino()).or_default().push(rel.clone());
                }
                format!(
                    "file {} mtime {}",
                    sha256(&std::fs::read(&p).unwrap()),
                    m.mtime()
                )
            } else {
                format!("special {:o} rdev {}", m.mode() & 0o170000, m.rdev())
            };
            let mode = if ft.is_symlink() {
                0
            } else {
                m.mode() & 0o7777
            };
            out.insert(
                rel,
                format!("{what} mode {mode:o} owner {}:{}", m.uid(), m.gid()),
            );
        }
    }
    for (_, mut paths) in inodes {
        paths.sort();
        let group = paths
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect::<Vec<_>>()
            .join(",");
        for p in paths {
            out.get_mut(&p)
                .unwrap()
                .push_str(&format!(" links [{group}]"));
        }
    }
    out
}

pub fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("friscy-pack-{name}-"))
        .tempdir()
        .unwrap()
}
