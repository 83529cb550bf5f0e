//! Host directory mounts: `wasmtime run --dir HOST::/guest` and `friscy run -v HOST:/guest`.
//! Reads and writes reach the host; no path (`..`, absolute or relative symlinks) leaves
//! the mount.

use std::path::{Path, PathBuf};
use std::process::Command;

use friscy_tests::{Run, built, ok, run, tool};

/// A fresh host directory for one test.
fn host_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("friscy-mount-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The sealed default image under the wasmtime CLI with `dir` preopened at /data.
fn wasmtime_with(dir: &Path, args: &[&str]) -> Run {
    run(Command::new(tool("wasmtime"))
        .arg("run")
        .arg("--dir")
        .arg(format!("{}::/data", dir.display()))
        .arg(built("friscy.wasm"))
        .arg("--")
        .args(args))
}

/// The native host with `dir` mounted at /data (`-v`), optionally read-only.
fn friscy_with(dir: &Path, ro: bool, args: &[&str]) -> Run {
    let spec = format!("{}:/data{}", dir.display(), if ro { ":ro" } else { "" });
    run(Command::new(built("friscy"))
        .arg("run")
        .arg("--rootfs")
        .arg(built("rootfs.tar"))
        .arg("-v")
        .arg(spec)
        .arg("--")
        .args(args))
}

/// Both ways in, the same behaviour.
fn each_runner(name: &str, check: impl Fn(&Path, &dyn Fn(&Path, &[&str]) -> Run)) {
    let d = host_dir(&format!("{name}-wasmtime"));
    check(&d, &|d, a| wasmtime_with(d, a));
    std::fs::remove_dir_all(&d).ok();
    let d = host_dir(&format!("{name}-native"));
    check(&d, &|d, a| friscy_with(d, false, a));
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn guest_reads_and_writes_reach_the_host() {
    each_runner("rw", |d, run| {
        std::fs::write(d.join("in.txt"), "from the host\n").unwrap();
        std::fs::create_dir(d.join("sub")).unwrap();
        assert_eq!(
            ok(&run(d, &["/bin/files", "cat", "/data/in.txt"])),
            "from the host\n"
        );
        assert_eq!(
            ok(&run(d, &["/bin/files", "ls", "/data"])),
            ".\n..\nin.txt\nsub\n"
        );
        ok(&run(
            d,
            &["/bin/files", "write", "/data/sub/out.txt", "from the guest"],
        ));
        assert_eq!(
            std::fs::read_to_string(d.join("sub/out.txt")).unwrap(),
            "from the guest"
        );
        ok(&run(d, &["/bin/files", "append", "/data/sub/out.txt", "!"]));
        assert_eq!(
            std::fs::read_to_string(d.join("sub/out.txt")).unwrap(),
            "from the guest!"
        );
        assert_eq!(
            ok(&run(d, &["/bin/files", "stat", "/data/sub/out.txt"])),
            "file 15\n"
        );
        ok(&run(d, &["/bin/files", "mkdir", "/data/new"]));
        assert!(d.join("new").is_dir());
        ok(&run(
            d,
            &["/bin/files", "mv", "/data/sub/out.txt", "/data/new/moved"],
        ));
        assert!(!d.join("sub/out.txt").exists());
        assert_eq!(
            std::fs::read_to_string(d.join("new/moved")).unwrap(),
            "from the guest!"
        );
        ok(&run(
            d,
            &["/bin/files", "symlink", "moved", "/data/new/alias"],
        ));
        assert_eq!(
            std::fs::read_link(d.join("new/alias")).unwrap(),
            PathBuf::from("moved")
        );
        assert_eq!(
            ok(&run(d, &["/bin/files", "cat", "/data/new/alias"])),
            "from the guest!"
        );
        ok(&run(d, &["/bin/files", "rm", "/data/new/alias"]));
        ok(&run(d, &["/bin/files", "rm", "/data/new/moved"]));
        ok(&run(d, &["/bin/files", "rmdir", "/data/new"]));
        assert!(!d.join("new").exists());
        // Errors are the host's, as Linux names them.
        let r = run(d, &["/bin/files", "cat", "/data/missing"]);
        assert_eq!(
            (r.status, r.stdout.as_str()),
            (Some(1), "open /data/missing: No such file or directory\n")
        );
        let r = run(d, &["/bin/files", "rmdir", "/data/sub-not-empty-check"]);
        assert_eq!(r.status, Some(1));
    });
}

#[test]
fn no_path_escapes_the_mount() {
    each_runner("escape", |d, run| {
        // `..` at the mount's root is the mount point's parent in the guest: the guest's
        // own /etc/hostname, never the host's.
        assert_eq!(
            ok(&run(d, &["/bin/files", "cat", "/data/../etc/hostname"])),
            "friscy\n"
        );
        assert_eq!(
            ok(&run(
                d,
                &["/bin/files", "cat", "/data/../../../etc/hostname"]
            )),
            "friscy\n"
        );
        // A relative symlink climbing out of the mount resolves in the guest's tree too.
        std::os::unix::fs::symlink("../../../../../../etc/hostname", d.join("up")).unwrap();
        assert_eq!(ok(&run(d, &["/bin/files", "cat", "/data/up"])), "friscy\n");
        // An absolute symlink: wasi:filesystem (wasmtime) refuses to make one, and one
        // made on the host cannot be read through it, so such links fail with EPERM
        // rather than point anywhere.
        let r = run(d, &["/bin/files", "symlink", "/etc/hostname", "/data/abs"]);
        assert_eq!(
            (r.status, r.stdout.as_str()),
            (Some(1), "symlink /data/abs: Operation not permitted\n")
        );
        std::os::unix::fs::symlink("/etc/hostname", d.join("abs")).unwrap();
        let r = run(d, &["/bin/files", "cat", "/data/abs"]);
        assert_ne!(r.stdout, std::fs::read_to_string("/etc/hostname").unwrap());
        assert_eq!(r.status, Some(1), "{}", r.stdout);
        // Writing through `..` lands in the guest's (discarded) overlay, not on the host.
        ok(&run(d, &["/bin/files", "write", "/data/../escaped", "x"]));
        assert!(!d.parent().unwrap().join("escaped").exists());
    });
}

#[test]
fn read_only_mounts_refuse_writes() {
    let d = host_dir("ro");
    std::fs::write(d.join("keep"), "kept").unwrap();
    assert_eq!(
        ok(&friscy_with(&d, true, &["/bin/files", "cat", "/data/keep"])),
        "kept"
    );
    let r = friscy_with(
        &d,
        true,
        &["/bin/files", "write", "/data/keep", "overwritten"],
    );
    assert_eq!(r.status, Some(1), "{}{}", r.stdout, r.stderr);
    // EROFS, as Linux gives on a read-only mount (issue 18: was EPERM).
    assert!(
        r.stdout
            .starts_with("open /data/keep: Read-only file system"),
        "{}",
        r.stdout
    );
    assert_eq!(std::fs::read_to_string(d.join("keep")).unwrap(), "kept");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn bad_volume_specs_are_refused_clearly() {
    let r = run(Command::new(built("friscy"))
        .args(["run", "--rootfs"])
        .arg(built("rootfs.tar"))
        .args(["-v", "/nonexistent-friscy-dir:/data", "--", "/bin/hello"]));
    assert_ne!(r.status, Some(0));
    assert!(r.stderr.contains("/nonexistent-friscy-dir"), "{}", r.stderr);
    let r = run(Command::new(built("friscy"))
        .args(["run", "--rootfs"])
        .arg(built("rootfs.tar"))
        .args(["-v", "/tmp:relative", "--", "/bin/hello"]));
    assert_ne!(r.status, Some(0));
    assert!(r.stderr.contains("absolute"), "{}", r.stderr);
}
