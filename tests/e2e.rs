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
fn open_component_imports_the_rootfs() {
    for open in ["friscy-open.wasm", "friscy-fused-open.wasm"] {
        let imports = world_items(&wit_of(open), "import");
        assert!(
            imports.contains(&"import friscy:vfs/rootfs@0.1.0;".to_string()),
            "{open}: {imports:?}"
        );
        for i in imports.iter().filter(|i| !i.starts_with("import wasi:")) {
            assert_eq!(
                i, "import friscy:vfs/rootfs@0.1.0;",
                "{open} imports more than the rootfs"
            );
        }
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
    assert!(
        r.stderr.lines().any(|l| l.contains("exit_group(")),
        "no trace on stderr: {}",
        r.stderr
    );
}
