//! End to end: riscv64 programs built from tests/guest/ run inside the composed, sealed
//! `friscy.wasm` under the real wasmtime CLI, inside the fused build, and in the native
//! host; exit statuses, stdio, errors and the component's imports are checked.

use std::process::Command;

use friscy_tests::{Run, built, friscy, root, run, tool, wasmtime};

const HELLO_AB: &str = "hello from riscv64\nargv[0] = /hello\nargv[1] = a\nargv[2] = b\n";

fn wit_of(component: &str) -> String {
    let r = run(Command::new(tool("wasm-tools"))
        .args(["component", "wit"])
        .arg(built(component)));
    assert_eq!(r.status, Some(0), "wasm-tools failed: {}", r.stderr);
    r.stdout
}

/// Lines of the world that import or export something.
fn world_items(wit: &str, kind: &str) -> Vec<String> {
    wit.lines()
        .map(str::trim)
        .filter(|l| l.starts_with(&format!("{kind} ")))
        .map(str::to_string)
        .collect()
}

#[test]
fn sealed_component_runs_hello_under_wasmtime_cli() {
    let r = wasmtime(&built("friscy.wasm"), &["/hello", "a", "b"]);
    assert_eq!(r.stdout, HELLO_AB, "stderr: {}", r.stderr);
    assert_eq!(r.status, Some(0));
}

#[test]
fn wasmtime_cli_without_leading_dashdash_also_runs() {
    let r = run(Command::new(tool("wasmtime"))
        .arg("run")
        .arg(built("friscy.wasm"))
        .args(["/hello", "a", "b"]));
    assert_eq!(r.stdout, HELLO_AB, "stderr: {}", r.stderr);
}

#[test]
fn exact_exit_status_reaches_wasmtime_cli() {
    for code in ["0", "3", "42", "255"] {
        let r = wasmtime(&built("friscy.wasm"), &["/bin/exit_status", code]);
        assert_eq!(r.stdout, format!("exiting with {code}\n"));
        assert_eq!(r.stderr, "to stderr\n");
        assert_eq!(
            r.status,
            Some(code.parse().unwrap()),
            "exit status for {code}"
        );
    }
}

#[test]
fn sealed_component_imports_only_wasi_and_exports_run() {
    let wit = wit_of("friscy.wasm");
    let exports = world_items(&wit, "export");
    assert_eq!(exports, ["export wasi:cli/run@0.2.6;"], "{wit}");
    let imports = world_items(&wit, "import");
    assert!(!imports.is_empty());
    for i in &imports {
        assert!(
            i.starts_with("import wasi:") && i.contains("@0.2.6"),
            "non-wasi or unpinned import {i}"
        );
    }
}

#[test]
fn open_component_imports_the_rootfs_its_config_and_the_console() {
    let expected = [
        "import friscy:tty/console@0.1.0;",
        "import friscy:vfs/image@0.1.0;",
        "import friscy:vfs/rootfs@0.1.0;",
    ];
    for open in ["friscy-open.wasm", "friscy-fused-open.wasm"] {
        let imports = world_items(&wit_of(open), "import");
        let mut ours: Vec<&str> = imports
            .iter()
            .map(String::as_str)
            .filter(|i| !i.starts_with("import wasi:"))
            .collect();
        ours.sort();
        assert_eq!(ours, expected, "{open}: {imports:?}");
    }
}

#[test]
fn fused_build_gives_the_same_results_as_the_composed_one() {
    let cases: [&[&str]; 4] = [
        &["/hello", "a", "b"],
        &["/bin/exit_status", "7"],
        &["/bin/environ"],
        &["/bin/segfault"],
    ];
    for args in cases {
        let composed = wasmtime(&built("friscy.wasm"), args);
        let fused = wasmtime(&built("friscy-fused.wasm"), args);
        assert_eq!(fused.stdout, composed.stdout, "{args:?}");
        assert_eq!(fused.stderr, composed.stderr, "{args:?}");
        assert_eq!(fused.status, composed.status, "{args:?}");
    }
}

#[test]
fn swapping_exec_in_the_wac_file_still_runs() {
    // The same composition with one line changed: the exec built without LTO and with
    // debug assertions (build/components/exec-debug.wasm) instead of the release one.
    let dir = std::env::temp_dir().join(format!("friscy-swap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wac = std::fs::read_to_string(root().join("compose/friscy-open.wac")).unwrap();
    let swapped = wac.replace(
        "let exec = new friscy:exec {",
        "let exec = new friscy:exec-debug {",
    );
    assert_ne!(wac, swapped, "the exec line moved: update this test");
    std::fs::write(dir.join("swapped.wac"), swapped).unwrap();
    let c = |n: &str| format!("{}", built(&format!("components/{n}.wasm")).display());
    let open = dir.join("open.wasm");
    let sealed = dir.join("sealed.wasm");
    let r = run(Command::new(tool("wac"))
        .args(["compose", "-o"])
        .arg(&open)
        .args([
            "--dep",
            &format!("friscy:exec-debug={}", c("exec-debug")),
            "--dep",
            &format!("friscy:vfs={}", c("vfs")),
            "--dep",
            &format!("friscy:net={}", c("net")),
            "--dep",
            &format!("friscy:kernel={}", c("kernel")),
        ])
        .arg(dir.join("swapped.wac")));
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    let r = run(Command::new(tool("wac"))
        .args(["compose", "-o"])
        .arg(&sealed)
        .arg("--dep")
        .arg(format!("friscy:open={}", open.display()))
        .arg("--dep")
        .arg(format!("friscy:rootfs={}", c("rootfs")))
        .arg("--dep")
        .arg(format!("friscy:console={}", c("console-wasi")))
        .arg(root().join("compose/friscy-sealed.wac")));
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    let r = wasmtime(&sealed, &["/hello", "a", "b"]);
    assert_eq!(r.stdout, HELLO_AB, "stderr: {}", r.stderr);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn native_host_passes_status_stdio_and_environment() {
    let image = built("rootfs.tar");
    let r = friscy(&image, &[], &["/bin/exit_status", "42"]);
    assert_eq!(
        (r.status, r.stdout.as_str(), r.stderr.as_str()),
        (Some(42), "exiting with 42\n", "to stderr\n")
    );
    let r = friscy(&image, &["-e", "GREETING=hi there"], &["/bin/environ"]);
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert!(
        r.stdout.lines().any(|l| l == "GREETING=hi there"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("PATH=/usr/local/sbin:")),
        "default PATH: {}",
        r.stdout
    );
    // PATH search, as `docker run IMAGE hello` finds /bin/hello.
    let r = friscy(&image, &[], &["hello", "x"]);
    assert_eq!(
        r.stdout, "hello from riscv64\nargv[0] = hello\nargv[1] = x\n",
        "{}",
        r.stderr
    );
}

#[test]
fn guest_fault_is_reported_like_a_signal() {
    let r: Run = wasmtime(&built("friscy.wasm"), &["/bin/segfault"]);
    assert_eq!(r.stdout, "about to fault\n");
    assert_eq!(r.status, Some(139), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
    assert!(
        r.stderr.contains("Segmentation fault") && r.stderr.contains("0x0"),
        "{}",
        r.stderr
    );
}

#[test]
fn missing_and_unrunnable_commands_fail_like_a_shell() {
    let r = wasmtime(&built("friscy.wasm"), &["/bin/nope"]);
    assert_eq!(r.status, Some(127));
    assert_eq!(r.stderr, "friscy: /bin/nope: No such file or directory\n");
    let r = wasmtime(&built("friscy.wasm"), &["nope"]);
    assert_eq!(r.status, Some(127));
    assert_eq!(r.stderr, "friscy: nope: command not found\n");
    let r = wasmtime(&built("friscy.wasm"), &["/etc/hostname"]);
    assert_eq!(r.status, Some(126));
    assert!(
        r.stderr.starts_with("friscy: /etc/hostname: "),
        "{}",
        r.stderr
    );
    let r = wasmtime(&built("friscy.wasm"), &["/bin/x86_64_elf"]);
    assert_eq!(r.status, Some(126));
    assert!(
        r.stderr.contains("not a riscv64 executable (x86-64)"),
        "{}",
        r.stderr
    );
    let r = wasmtime(&built("friscy.wasm"), &[]);
    assert_eq!(r.status, Some(2));
    assert!(r.stderr.contains("no command given"), "{}", r.stderr);
}

#[test]
fn native_host_rejects_bad_images_clearly() {
    let dir = std::env::temp_dir().join(format!("friscy-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let truncated = dir.join("truncated.tar");
    let tar = std::fs::read(built("rootfs.tar")).unwrap();
    std::fs::write(&truncated, &tar[..700]).unwrap();
    let r = friscy(&truncated, &[], &["/hello"]);
    assert_eq!(r.status, Some(125), "{}", r.stderr);
    assert!(r.stderr.starts_with("friscy: rootfs: "), "{}", r.stderr);
    let r = friscy(&dir.join("absent.tar"), &[], &["/hello"]);
    assert_eq!(r.status, Some(125));
    assert!(r.stderr.contains("absent.tar"), "{}", r.stderr);
    std::fs::remove_dir_all(&dir).ok();
}

/// The official Alpine 3.20 riscv64 minirootfs (musl, dynamically linked busybox), as an
/// uncompressed tar. Provide it with FRISCY_ALPINE_TAR (a .tar or .tar.gz); by default the
/// shared fixture beside the repository is used. Without it the test says so and passes.
fn alpine_image() -> Option<std::path::PathBuf> {
    let given = std::env::var_os("FRISCY_ALPINE_TAR").map(std::path::PathBuf::from);
    let path = given.unwrap_or_else(|| {
        root().join("../shared/fixtures/alpine-minirootfs-3.20.3-riscv64.tar.gz")
    });
    if !path.exists() {
        eprintln!(
            "SKIPPED: Alpine rootfs not found at {} (set FRISCY_ALPINE_TAR)",
            path.display()
        );
        return None;
    }
    if path.extension().is_some_and(|e| e == "gz") {
        let out = std::env::temp_dir().join(format!("friscy-alpine-{}.tar", std::process::id()));
        let r = run(Command::new("gzip")
            .arg("-dc")
            .arg(&path)
            .stdout(std::fs::File::create(&out).unwrap()));
        assert_eq!(r.status, Some(0), "gunzip {}", path.display());
        return Some(out);
    }
    Some(path)
}

#[test]
fn alpine_dynamic_musl_busybox_runs() {
    let Some(image) = alpine_image() else { return };
    let r = friscy(&image, &[], &["/bin/cat", "/etc/alpine-release"]);
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (Some(0), "3.20.3\n"),
        "{}",
        r.stderr
    );
    let r = friscy(&image, &[], &["/bin/sh", "-c", "echo $((6*7)) $0"]);
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (Some(0), "42 /bin/sh\n"),
        "{}",
        r.stderr
    );
    let r = friscy(&image, &[], &["ls", "/"]);
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    let names: Vec<&str> = r.stdout.split_whitespace().collect();
    for want in ["bin", "etc", "lib", "usr", "var", "tmp"] {
        assert!(names.contains(&want), "ls / lacks {want}: {names:?}");
    }
    // read(2) on a directory and /dev/tty without a terminal fail as on Linux.
    let r = friscy(&image, &[], &["/bin/cat", "/etc"]);
    assert_eq!(
        (r.status, r.stderr.as_str()),
        (Some(1), "cat: read error: Is a directory\n")
    );
    let r = friscy(&image, &[], &["/bin/cat", "/dev/tty"]);
    assert_eq!(r.status, Some(1));
    assert!(
        r.stderr.contains("No such device or address"),
        "{}",
        r.stderr
    );
    let r = friscy(&image, &[], &["/bin/busybox", "ls", "-l", "/bin/sh"]);
    assert!(
        r.stdout.contains("/bin/sh -> /bin/busybox"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    if image.starts_with(std::env::temp_dir()) {
        std::fs::remove_file(&image).ok();
    }
}

#[test]
fn native_host_strace_flag_traces_syscalls() {
    let r = friscy(&built("rootfs.tar"), &["--strace"], &["/hello"]);
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    // strace's notation: arguments decoded per call, strings quoted and cut at 32 bytes.
    for want in [
        r#"[1] readlinkat(AT_FDCWD, "/proc/self/exe", "/"#,
        r#"[1] write(1, "hello from riscv64\nargv[0] = /he"..., 36) = 36"#,
        "[1] exit_group(0) = ?",
    ] {
        assert!(
            r.stderr.lines().any(|l| l.starts_with(want)),
            "no {want:?} in: {}",
            r.stderr
        );
    }
}

#[test]
fn strace_names_errors_and_marks_parked_calls_unfinished() {
    let Some(image) = friscy_tests::alpine_tar() else {
        return;
    };
    let r = friscy(
        &image,
        &["--strace"],
        &["/bin/sh", "-c", "cat /nope; echo done"],
    );
    assert_eq!(r.stdout, "done\n", "{}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    let has = |s: &str| lines.iter().any(|l| l.contains(s));
    assert!(
        has(
            r#"openat(AT_FDCWD, "/nope", O_RDONLY|O_LARGEFILE) = -1 ENOENT (No such file or directory)"#
        ),
        "{}",
        r.stderr
    );
    assert!(
        has(r#"execve("/bin/cat", ["cat", "/nope"], 0x"#),
        "{}",
        r.stderr
    );
    assert!(has("clone(flags=SIGCHLD, NULL, NULL, "), "{}", r.stderr);
    // The shell's wait parks while cat runs: one <unfinished ...> line, then the result.
    let parked: Vec<&&str> = lines
        .iter()
        .filter(|l| l.ends_with(" <unfinished ...>"))
        .collect();
    assert!(
        parked
            .iter()
            .any(|l| l.starts_with("[1] wait4(-1, 0x") && l.contains(", 0, NULL <")),
        "{}",
        r.stderr
    );
    let waits = lines
        .iter()
        .filter(|l| l.starts_with("[1] wait4(-1, ") && l.contains(", 0, NULL"))
        .count();
    assert_eq!(waits, 2, "one unfinished line and one result: {}", r.stderr);
}

/// A fresh cache for `friscy run`'s decompressed images (XDG_CACHE_HOME, FRISCY_CACHE unset
/// so that the compiled component still comes from the usual cache).
struct RootfsCache(std::path::PathBuf);

impl RootfsCache {
    fn new(name: &str) -> RootfsCache {
        let dir = std::env::temp_dir().join(format!("friscy-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        RootfsCache(dir)
    }

    fn run(&self, image: &std::path::Path, args: &[&str]) -> Run {
        run(&mut self.command(image, args))
    }

    fn command(&self, image: &std::path::Path, args: &[&str]) -> Command {
        let mut c = friscy_tests::friscy_cmd();
        c.env_remove("FRISCY_CACHE")
            .env("XDG_CACHE_HOME", &self.0)
            .arg("run")
            .arg("--rootfs")
            .arg(image)
            .arg("--")
            .args(args);
        c
    }

    /// Every file in the rootfs cache, temporary ones included.
    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.0.join("friscy/rootfs"))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

impl Drop for RootfsCache {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn zstd_of(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

fn gzip_of(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn compressed_alpine_images_run_and_decompress_once() {
    let gz = std::env::var_os("FRISCY_ALPINE_TAR")
        .map(std::path::PathBuf::from)
        .filter(|p| p.extension().is_some_and(|e| e == "gz"))
        .unwrap_or_else(|| {
            root().join("../shared/fixtures/alpine-minirootfs-3.20.3-riscv64.tar.gz")
        });
    if !gz.exists() {
        friscy_tests::loud(&format!(
            "SKIPPED: compressed_alpine_images_run_and_decompress_once: no {}",
            gz.display()
        ));
        return;
    }
    let cache = RootfsCache::new("alpine-cache");
    let cat = ["/bin/cat", "/etc/alpine-release"];
    let r = cache.run(&gz, &cat);
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (Some(0), "3.20.3\n"),
        "{}",
        r.stderr
    );
    // 3 MiB is below the status-line threshold: the guest's stderr is all there is.
    assert_eq!(r.stderr, "");
    let entries = cache.entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].ends_with(".tar"), "{entries:?}");
    let tar = cache.0.join("friscy/rootfs").join(&entries[0]);
    let mtime = std::fs::metadata(&tar).unwrap().modified().unwrap();
    let r = cache.run(&gz, &["/bin/sh", "-c", "echo $((6*7))"]);
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (Some(0), "42\n"),
        "{}",
        r.stderr
    );
    assert_eq!(cache.entries(), entries, "the second run reuses the entry");
    // Using it makes it the most recently used (its time orders the cache's eviction).
    assert!(std::fs::metadata(&tar).unwrap().modified().unwrap() >= mtime);

    // The same tar as zstd: another key (the hash is of the compressed bytes), same files.
    let plain = std::fs::read(&tar).unwrap();
    let zst = cache.0.join("alpine.tar.zst");
    std::fs::write(&zst, zstd_of(&plain)).unwrap();
    let r = cache.run(&zst, &cat);
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (Some(0), "3.20.3\n"),
        "{}",
        r.stderr
    );
    assert_eq!(cache.entries().len(), 2);

    // Concurrent first runs of one image: all succeed, one entry, no temporaries left.
    let zst2 = cache.0.join("again.tar.zst");
    std::fs::write(&zst2, zstd_of(&plain[..plain.len() - 512])).unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            cache
                .command(&zst2, &cat)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let r: Run = c.wait_with_output().unwrap().into();
        assert_eq!(
            (r.status, r.stdout.as_str()),
            (Some(0), "3.20.3\n"),
            "{}",
            r.stderr
        );
    }
    let entries = cache.entries();
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert!(entries.iter().all(|e| e.ends_with(".tar")), "{entries:?}");
}

#[test]
fn corrupt_or_truncated_compressed_images_fail_in_one_line_and_leave_no_cache_entry() {
    let cache = RootfsCache::new("bad-compressed");
    let tar = std::fs::read(built("rootfs.tar")).unwrap();
    let mut corrupt = gzip_of(&tar);
    let mid = corrupt.len() / 2;
    for b in &mut corrupt[mid..mid + 64] {
        *b ^= 0xa5;
    }
    let z = zstd_of(&tar);
    let gz = gzip_of(&tar);
    let cases = [
        ("corrupt.tar.gz", corrupt, "gzip"),
        ("truncated.tar.zst", z[..z.len() * 2 / 3].to_vec(), "zstd"),
        ("truncated.tar.gz", gz[..gz.len() - 6].to_vec(), "gzip"),
        ("header-only.tar.zst", z[..6].to_vec(), "zstd"),
    ];
    for (name, bytes, kind) in cases {
        let image = cache.0.join(name);
        std::fs::write(&image, bytes).unwrap();
        let r = cache.run(&image, &["/hello"]);
        assert_eq!(r.status, Some(125), "{name}: {}", r.stderr);
        // One error line, after the progress line large images get.
        let errors: Vec<&str> = r
            .stderr
            .lines()
            .filter(|l| !l.starts_with("friscy: decompressing "))
            .collect();
        assert_eq!(errors.len(), 1, "{name}: one line: {}", r.stderr);
        // The decompressor's check, or the tar check's (which may see the damage first).
        assert!(
            errors[0].starts_with(&format!("friscy: rootfs {}: ", image.display()))
                && (errors[0].contains(&format!("corrupt or truncated {kind} data"))
                    || errors[0].contains("not a tar archive: bad header checksum")),
            "{name}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        assert_eq!(
            cache.entries(),
            Vec::<String>::new(),
            "{name} left a cache entry"
        );
    }
    let xz = cache.0.join("image.tar.xz");
    std::fs::write(&xz, b"\xfd7zXZ\0\0\x04").unwrap();
    let r = cache.run(&xz, &["/hello"]);
    assert_eq!(r.status, Some(125));
    assert!(
        r.stderr.contains("xz-compressed images are not supported"),
        "{}",
        r.stderr
    );
}

#[test]
fn large_compressed_images_say_they_are_decompressing_once() {
    // The bundled image plus a 9 MiB incompressible file: above the 8 MiB threshold.
    let mut tar = std::fs::read(built("rootfs.tar")).unwrap();
    while tar.len() >= 512 && tar[tar.len() - 512..].iter().all(|&b| b == 0) {
        tar.truncate(tar.len() - 512);
    }
    let size = 9 << 20;
    let mut header = [0u8; 512];
    header[..4].copy_from_slice(b"big\0");
    header[100..108].copy_from_slice(b"0000644\0");
    header[108..116].copy_from_slice(b"0000000\0");
    header[116..124].copy_from_slice(b"0000000\0");
    header[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    header[136..148].copy_from_slice(b"00000000000\0");
    header[156] = b'0';
    header[257..265].copy_from_slice(b"ustar\x0000");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&b| b as u32).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    tar.extend_from_slice(&header);
    let mut x = 0x9e3779b97f4a7c15u64;
    tar.extend((0..size / 8).flat_map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x.to_le_bytes()
    }));
    tar.extend_from_slice(&[0; 1024]);
    let cache = RootfsCache::new("large-compressed");
    let image = cache.0.join("large.tar.gz");
    std::fs::write(&image, gzip_of(&tar)).unwrap();
    let r = cache.run(&image, &["/hello"]);
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert!(r.stdout.starts_with("hello from riscv64\n"), "{}", r.stdout);
    assert!(
        r.stderr
            .starts_with(&format!("friscy: decompressing {} (", image.display())),
        "{}",
        r.stderr
    );
    let r = cache.run(&image, &["/hello"]);
    assert_eq!(
        (r.status, r.stderr.as_str()),
        (Some(0), ""),
        "cached: {}",
        r.stderr
    );
}
