//! `friscy run --rootfs DIR`: a root filesystem directory read in place through
//! `friscy:vfs/tree` (build/friscy-dir-open.wasm), the same path the containerd shim takes
//! with a container's snapshot: the Alpine minirootfs extracted by GNU tar runs, with its
//! modes, owners and symlinks, and the guest's writes never reach the directory.

use std::path::Path;
use std::process::Command;

use friscy_tests::{alpine_tar, friscy, ok, run};

fn extract(tar: &Path, name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("friscy-dir-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let r = run(Command::new("tar")
        .args(["-x", "-p", "--numeric-owner", "-f"])
        .arg(tar)
        .arg("-C")
        .arg(&dir));
    assert_eq!(r.status, Some(0), "tar: {}", r.stderr);
    dir
}

#[test]
fn alpine_runs_from_an_extracted_directory() {
    let Some(tar) = alpine_tar() else { return };
    let dir = extract(&tar, "alpine");
    let r = friscy(
        &dir,
        &[],
        &[
            "/bin/busybox",
            "sh",
            "-c",
            "echo $((6*7)); cat /etc/alpine-release; readlink /bin/sh; \
             stat -c '%a %g' /etc/shadow; ls /lib/ld-musl-riscv64.so.1",
        ],
    );
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    let release = std::fs::read_to_string(dir.join("etc/alpine-release")).unwrap();
    // Extracted by someone else than root, the files are theirs: the group differs.
    let group = if root { "42" } else { "" };
    let out = ok(&r);
    assert!(
        out.starts_with(&format!("42\n{release}/bin/busybox\n640 {group}")),
        "{out}"
    );
    assert!(out.ends_with("/lib/ld-musl-riscv64.so.1\n"), "{out}");

    // Writes, removals and renames stay in the guest.
    let r = friscy(
        &dir,
        &[],
        &[
            "/bin/busybox",
            "sh",
            "-c",
            "echo changed > /etc/motd && rm /etc/hostname && mkdir /new && mv /etc/issue /new/ \
             && cat /etc/motd && ls /new",
        ],
    );
    assert_eq!(ok(&r), "changed\nissue\n");
    assert_ne!(
        std::fs::read_to_string(dir.join("etc/motd")).unwrap(),
        "changed\n"
    );
    assert!(dir.join("etc/hostname").exists() && dir.join("etc/issue").exists());
    assert!(!dir.join("new").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
