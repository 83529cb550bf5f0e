//! Start-up paths (issue 17): the prebuilt tar index (kept in the native host's cache for a
//! plain tar, carried inside friscy-pack's outputs), what happens when it is damaged, and
//! `friscy-pack --precompile` for `wasmtime run --allow-precompiled`.

use std::path::{Path, PathBuf};
use std::process::Command;

use friscy_tests::{Run, Temp, alpine_tar, built, friscy_cmd, run, tool};

/// `friscy run IMAGE ARGS...` with its own cache.
fn friscy_in(cache: &Path, image: &Path, args: &[&str]) -> Run {
    run(friscy_cmd()
        .env_remove("FRISCY_CACHE")
        .env("XDG_CACHE_HOME", cache)
        .arg("run")
        .arg(image)
        .args(args))
}

fn index_files(cache: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(cache.join("friscy/index")) {
        Ok(d) => d.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

const DAMAGED: &str = "the prebuilt index is damaged (checksum); indexing the tar instead";

#[test]
fn a_plain_tar_is_indexed_once_into_the_cache() {
    let tmp = Temp::new("index");
    let image = built("rootfs.tar");
    let r = friscy_in(&tmp.0, &image, &["/hello"]);
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("hello from riscv64"), "{}", r.stdout);
    let idx = index_files(&tmp.0);
    assert_eq!(idx.len(), 1, "one index for one image: {idx:?}");
    let made = std::fs::read(&idx[0]).unwrap();
    assert_eq!(&made[made.len() - 64..][..16], b"friscy-vfs-index");

    // The next start reads it (and only marks it used).
    let r = friscy_in(&tmp.0, &image, &["/hello"]);
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert!(!r.stderr.contains("index"), "{}", r.stderr);
    assert_eq!(index_files(&tmp.0), idx);
    assert_eq!(std::fs::read(&idx[0]).unwrap(), made);
}

/// A compressed image is served from its decompressed copy in the cache, which every use
/// touches (for eviction): its index is still made once, not at every start.
#[test]
fn a_compressed_image_is_indexed_once_too() {
    let tmp = Temp::new("gz-index");
    let gz = tmp.0.join("rootfs.tar.gz");
    let r = run(Command::new("gzip")
        .arg("-c")
        .arg(built("rootfs.tar"))
        .stdout(std::fs::File::create(&gz).unwrap()));
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    for _ in 0..3 {
        let r = friscy_in(&tmp.0, &gz, &["/hello"]);
        assert_eq!(r.status, Some(0), "{}", r.stderr);
        assert!(r.stdout.contains("hello from riscv64"), "{}", r.stdout);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(index_files(&tmp.0).len(), 1, "{:?}", index_files(&tmp.0));

    // `friscy cache prune --all` empties it.
    let r = run(friscy_cmd()
        .env_remove("FRISCY_CACHE")
        .env("XDG_CACHE_HOME", &tmp.0)
        .args(["cache", "prune", "--all"]));
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert_eq!(index_files(&tmp.0), Vec::<PathBuf>::new());
}

/// A damaged cache entry is made again, silently.
#[test]
fn a_damaged_cached_index_is_made_again() {
    let tmp = Temp::new("recache");
    let image = built("rootfs.tar");
    let r = friscy_in(&tmp.0, &image, &["/hello"]);
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    let idx = index_files(&tmp.0);
    assert_eq!(idx.len(), 1, "{idx:?}");
    let good = std::fs::read(&idx[0]).unwrap();
    let mut bad = good.clone();
    bad[100] ^= 0x20;
    std::fs::write(&idx[0], &bad).unwrap();
    let r = friscy_in(&tmp.0, &image, &["/hello"]);
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("hello from riscv64"), "{}", r.stdout);
    assert!(!r.stderr.contains("index"), "{}", r.stderr);
    assert_eq!(std::fs::read(&idx[0]).unwrap(), good);
}

/// A damaged index inside an image (here a bundle's rootfs.tar, a byte of its index
/// flipped) is not used: the start says so and indexes the tar, which gives the same
/// inode numbers, names and attributes.
#[test]
fn a_damaged_index_is_refused_and_the_tar_indexed_instead() {
    let Some(alpine) = alpine_tar() else { return };
    let tmp = Temp::new("damaged");
    let bundle = tmp.0.join("bundle");
    let r = run(Command::new(built("friscy-pack"))
        .arg(&alpine)
        .args(["--quiet", "-o"])
        .arg(&bundle));
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    // Image directories only: / holds /dev and /proc, made at start (their times differ).
    let list = [
        "/bin/busybox",
        "ls",
        "-lian",
        "--full-time",
        "/bin",
        "/etc",
        "/lib",
        "/usr/lib",
        "/usr/share",
    ];
    let good = friscy_in(&tmp.0, &bundle, &list);
    assert_eq!(good.status, Some(0), "{}", good.stderr);
    assert!(good.stdout.lines().count() > 100, "{}", good.stdout);
    assert!(!good.stderr.contains("index"), "{}", good.stderr);

    let tar = bundle.join("rootfs.tar");
    let mut bytes = std::fs::read(&tar).unwrap();
    let tar_len = std::fs::metadata(&alpine).unwrap().len() as usize;
    assert!(
        bytes.len() > tar_len + 1000,
        "the bundle's tar has an index after the archive"
    );
    bytes[tar_len + 700] ^= 0x20;
    std::fs::write(&tar, &bytes).unwrap();
    let fallback = friscy_in(&tmp.0, &bundle, &list);
    assert_eq!(fallback.status, Some(0), "{}", fallback.stderr);
    assert!(fallback.stderr.contains(DAMAGED), "{}", fallback.stderr);
    assert_eq!(
        fallback.stdout, good.stdout,
        "the tar gives what the index gave"
    );
}

/// friscy-pack's bundles carry the index in rootfs.tar, after the archive's end, where
/// tar readers do not look: the host then keeps none of its own.
#[test]
fn bundles_carry_their_index() {
    let tmp = Temp::new("bundle");
    let bundle = tmp.0.join("bundle");
    let r = run(Command::new(built("friscy-pack"))
        .arg(built("rootfs.tar"))
        .args(["--quiet", "-o"])
        .arg(&bundle));
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    let rootfs = std::fs::read(bundle.join("rootfs.tar")).unwrap();
    assert_eq!(&rootfs[rootfs.len() - 64..][..16], b"friscy-vfs-index");
    let listing = run(Command::new("tar").arg("tf").arg(bundle.join("rootfs.tar")));
    assert_eq!(listing.status, Some(0), "{}", listing.stderr);
    assert!(
        listing.stdout.lines().any(|l| l.ends_with("hello")),
        "{}",
        listing.stdout
    );

    let r = friscy_in(&tmp.0, &bundle, &["/hello"]);
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("hello from riscv64"), "{}", r.stdout);
    assert_eq!(index_files(&tmp.0), Vec::<PathBuf>::new());
}

#[test]
fn precompiled_components_run_under_wasmtime() {
    let tmp = Temp::new("precompile");
    let out = tmp.0.join("app.cwasm");
    let r = run(Command::new(built("friscy-pack"))
        .env("WASMTIME", tool("wasmtime"))
        .arg(built("rootfs.tar"))
        .args(["--precompile", "--quiet", "-o"])
        .arg(&out));
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    let r = run(Command::new(tool("wasmtime"))
        .args(["run", "--allow-precompiled"])
        .arg(&out)
        .args(["--", "/hello"]));
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("hello from riscv64"), "{}", r.stdout);
    // Only the output is left behind.
    let left: Vec<_> = std::fs::read_dir(&tmp.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["app.cwasm"]);

    // No wasmtime: a clear error, no output.
    let out2 = tmp.0.join("other.cwasm");
    let r = run(Command::new(built("friscy-pack"))
        .env("WASMTIME", tmp.0.join("no-such-wasmtime"))
        .arg(built("rootfs.tar"))
        .args(["--precompile", "--quiet", "-o"])
        .arg(&out2));
    assert_eq!(r.status, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains("--precompile runs `wasmtime compile`"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(!out2.exists());
    let left: Vec<_> = std::fs::read_dir(&tmp.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["app.cwasm"]);
}
