//! The AOT backend (rv2wasm, issue 16): `build/friscy-aot.wasm` is `friscy.wasm` with
//! exec swapped for an rv2wasm build holding translations of build/guest/* (and of
//! Alpine's busybox and musl loader). These tests check that the swap changes nothing a
//! guest can see, that the translated code is what runs (FRISCY_AOT_STATS), and that
//! code written at run time runs as written. Every other test runs on this backend too
//! with FRISCY_EXEC=aot.

use std::process::Command;

use friscy_tests::{Run, alpine_tar, built, ok, run, tool};

/// `wasmtime run --env FRISCY_AOT_STATS=1 COMPONENT -- ARGS`.
fn wasmtime_stats(component: &str, args: &[&str]) -> Run {
    run(Command::new(tool("wasmtime"))
        .arg("run")
        .arg("--env")
        .arg("FRISCY_AOT_STATS=1")
        .arg(built(component))
        .arg("--")
        .args(args))
}

/// (translated, interpreted) from the kernel's "friscy: aot: ..." line.
fn stats(stderr: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("friscy: aot: "))
        .unwrap_or_else(|| panic!("no aot report in stderr:\n{stderr}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    (words[2].parse().unwrap(), words[5].parse().unwrap())
}

fn wit(component: &str) -> String {
    let r = run(Command::new(tool("wasm-tools"))
        .args(["component", "wit"])
        .arg(built(component)));
    assert_eq!(r.status, Some(0), "wasm-tools failed: {}", r.stderr);
    r.stdout
}

#[test]
fn aot_exec_has_the_interpreters_interface() {
    assert_eq!(wit("components/exec.wasm"), wit("components/exec-aot.wasm"));
}

#[test]
fn static_guest_runs_translated_with_the_same_output() {
    let interp = wasmtime_stats("friscy.wasm", &["/hello", "a", "b"]);
    let aot = wasmtime_stats("friscy-aot.wasm", &["/hello", "a", "b"]);
    assert_eq!(ok(&aot), ok(&interp));
    let (t, i) = stats(&interp.stderr);
    assert_eq!(t, 0, "the interpreter build ran translated code");
    let (at, ai) = stats(&aot.stderr);
    assert_eq!(at + ai, i, "both backends retire the same instructions");
    assert!(
        at > 9 * ai,
        "mostly translated: {at} translated, {ai} interpreted"
    );
}

#[test]
fn preempted_loops_resume_translated_with_the_same_results() {
    // tests/guest/loops.c: nested loops, one-block inner loops, a cold call jumping back
    // into a loop, a loop entered in its middle; about 40 million instructions, so the
    // kernel's time slice stops the translated loops part-way dozens of times and exec
    // re-enters them through the function's dispatch.
    let interp = wasmtime_stats("friscy.wasm", &["/bin/loops"]);
    let aot = wasmtime_stats("friscy-aot.wasm", &["/bin/loops"]);
    let out = ok(&aot);
    assert_eq!(out, ok(&interp));
    assert!(out.contains("sorted sum "), "{out}");
    let (at, ai) = stats(&aot.stderr);
    let (_, i) = stats(&interp.stderr);
    assert_eq!(at + ai, i, "both backends retire the same instructions");
    assert!(i > 20 << 20, "too short to be preempted: {i} instructions");
    assert!(
        at > 9 * ai,
        "mostly translated: {at} translated, {ai} interpreted"
    );
}

#[test]
fn rewritten_code_runs_as_written() {
    // The program patches a translated function of its own text, then runs JIT-style code
    // in an anonymous mapping, rewriting it between calls.
    let want = "text before: 16\ntext after: 42\njit round 1: 100\njit round 2: 200\njit round 3: 300\nok\n";
    for c in ["friscy.wasm", "friscy-aot.wasm"] {
        let r = wasmtime_stats(c, &["/bin/code_rewrite"]);
        assert_eq!(ok(&r), want, "{c}");
    }
    let (t, _) = stats(&wasmtime_stats("friscy-aot.wasm", &["/bin/code_rewrite"]).stderr);
    assert!(t > 0, "nothing ran translated");
}

#[test]
fn faults_and_exit_statuses_are_the_interpreters() {
    for args in [&["/bin/segfault"][..], &["/bin/exit_status", "7"][..]] {
        let a = wasmtime_stats("friscy.wasm", args);
        let b = wasmtime_stats("friscy-aot.wasm", args);
        assert_eq!(a.status, b.status, "{args:?}");
        assert_eq!(a.stdout, b.stdout, "{args:?}");
        let strip = |s: &str| -> String {
            s.lines()
                .filter(|l| !l.starts_with("friscy: aot: "))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(strip(&a.stderr), strip(&b.stderr), "{args:?}");
    }
}

/// Alpine's busybox (PIE) and musl's dynamic linker, translated at build time, run a
/// shell script with the interpreter's results, mostly translated.
#[test]
fn alpine_busybox_runs_translated() {
    let Some(image) = alpine_tar() else { return };
    let script = "for i in 1 2 3; do echo $i; done; expr 7 \\* 6; echo abc | sed s/b/X/; \
                  awk 'BEGIN{print 3.5*2, 10/3}'; seq 1 5 | sort -r | tr '\\n' ' '; echo; \
                  sha256sum /etc/passwd; ls /etc | head -3";
    let runs: Vec<Run> = ["friscy-open.wasm", "friscy-aot-open.wasm"]
        .iter()
        .map(|c| {
            run(Command::new(built("friscy"))
                .arg("run")
                .arg("--component")
                .arg(built(c))
                .arg("--rootfs")
                .arg(&image)
                .args(["-e", "FRISCY_AOT_STATS=1", "--", "/bin/sh", "-c", script]))
        })
        .collect();
    assert_eq!(ok(&runs[1]), ok(&runs[0]));
    let (t, i) = stats(&runs[1].stderr);
    assert!(
        t > 4 * i,
        "mostly translated: {t} translated, {i} interpreted"
    );
}

/// A program with no translation, in an image where others have some: its file is not
/// hashed (no translated file has its size) nor read whole; musl's loader, translated, is.
#[test]
fn untranslated_files_are_not_hashed() {
    let Some(image) = alpine_tar() else { return };
    let r = run(Command::new(built("friscy"))
        .arg("run")
        .arg("--component")
        .arg(built("friscy-aot-open.wasm"))
        .arg("--rootfs")
        .arg(&image)
        .args([
            "-e",
            "FRISCY_AOT_STATS=1",
            "--",
            "/usr/bin/getconf",
            "PAGE_SIZE",
        ]));
    assert_eq!(ok(&r), "4096\n");
    let line = r
        .stderr
        .lines()
        .find(|l| l.starts_with("friscy: aot: "))
        .unwrap_or_else(|| panic!("no aot report in stderr:\n{}", r.stderr));
    assert!(line.ends_with(", 1 mapped files hashed)"), "{line}");
}

/// `build/rv2wasm INPUTS --exec build/EXEC -o OUT`.
fn rv2wasm(inputs: &[std::path::PathBuf], exec: &str, out: &std::path::Path) -> Run {
    run(Command::new(built("rv2wasm"))
        .args(inputs)
        .arg("--exec")
        .arg(built(exec))
        .arg("-o")
        .arg(out))
}

/// rv2wasm takes a whole image: every riscv64 ELF file in Alpine translates, with no
/// panic, into a component that validates (rv2wasm validates what it writes).
#[test]
fn rv2wasm_translates_all_of_alpine() {
    let Some(image) = alpine_tar() else { return };
    let out = std::env::temp_dir().join(format!("friscy-aot-alpine-{}.wasm", std::process::id()));
    let r = rv2wasm(&[image], "components/exec.wasm", &out);
    std::fs::remove_file(&out).ok();
    assert_eq!(r.status, Some(0), "rv2wasm failed: {}", r.stderr);
    assert!(r.stderr.contains("rv2wasm: 17 files"), "{}", r.stderr);
}

/// Inputs with no riscv64 ELF file among them are an error (each skip said, nothing
/// written), not an exec component that only ever interprets.
#[test]
fn rv2wasm_with_nothing_to_translate_fails() {
    let dir = std::env::temp_dir().join(format!("friscy-aot-none-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("notes.txt");
    std::fs::write(&text, "not an ELF file\n").unwrap();
    let out = dir.join("out.wasm");
    let r = rv2wasm(&[text], "components/exec.wasm", &out);
    let written = out.exists();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(r.status, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains("notes.txt: not a riscv64 ELF"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("nothing to translate"), "{}", r.stderr);
    assert!(
        !written,
        "rv2wasm wrote a component with nothing translated"
    );
}

/// rv2wasm on Debian's glibc (libc.so.6 and the dynamic loader) and python3.13, as files
/// taken out of the image: no panic, a component that validates, and most of the code
/// found. (Running the result needs its 100 MB of Wasm compiled, minutes; that was done
/// by hand, docs/PERFORMANCE.md.)
#[test]
fn rv2wasm_translates_debians_glibc_and_python() {
    let Some(image) = friscy_tests::debian_tar() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("friscy-aot-debian-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = [
        "usr/bin/python3.13",
        "usr/lib/riscv64-linux-gnu/libc.so.6",
        "usr/lib/riscv64-linux-gnu/ld-linux-riscv64-lp64d.so.1",
    ];
    let mut archive = tar::Archive::new(std::fs::File::open(&image).unwrap());
    let mut paths = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let name = name.trim_start_matches("./").to_string();
        if files.contains(&name.as_str()) && entry.header().entry_type().is_file() {
            let out = dir.join(name.replace('/', "_"));
            entry.unpack(&out).unwrap();
            paths.push(out);
        }
    }
    assert_eq!(paths.len(), files.len(), "{files:?} in {}", image.display());
    let out = dir.join("out.wasm");
    let r = rv2wasm(&paths, "components/kernel-fused.wasm", &out);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(r.status, Some(0), "rv2wasm failed: {}", r.stderr);
    assert!(r.stderr.contains("rv2wasm: 3 files"), "{}", r.stderr);
    // "... of N bytes of code translated (P%)": at least 40% of the code.
    let pct: f64 = r
        .stderr
        .split("translated (")
        .nth(1)
        .and_then(|t| t.split('%').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no coverage in: {}", r.stderr));
    assert!(pct >= 40.0, "only {pct}% translated: {}", r.stderr);
}

/// `rv2wasm IMAGE --only PATH`: the program, its dynamic linker and the shared libraries
/// it needs (found through the image's symlinks and library path), and nothing else.
#[test]
fn rv2wasm_only_translates_a_program_and_the_libraries_it_needs() {
    let out = std::env::temp_dir().join(format!("friscy-aot-only-{}.wasm", std::process::id()));
    let only = |paths: &[&str], image: &std::path::Path| {
        let mut c = Command::new(built("rv2wasm"));
        c.arg(image);
        for p in paths {
            c.args(["--only", p]);
        }
        run(c
            .args(["--exec"])
            .arg(built("components/exec.wasm"))
            .arg("-o")
            .arg(&out))
    };
    let fails = |r: Run, says: &str| {
        assert_ne!(r.status, Some(0), "{}", r.stderr);
        assert!(r.stderr.contains(says), "{}", r.stderr);
    };
    // --only picks from images: with an ELF file alone it is an error, not ignored.
    fails(only(&["/hello"], &built("guest/hello")), "no input is one");
    let Some(image) = alpine_tar() else { return };
    // /bin/sh -> busybox, whose interpreter and libc.musl-riscv64.so.1 are one file.
    let r = only(&["/bin/sh"], &image);
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert!(r.stderr.contains("rv2wasm: 2 files"), "{}", r.stderr);
    fails(
        only(&["/etc/passwd"], &image),
        "/etc/passwd: not a riscv64 ELF",
    );
    fails(
        only(&["/usr/bin/nonesuch"], &image),
        "no such file or directory",
    );
    // Debian (merged /usr: /lib is a symlink): python3 -> python3.13, which needs libm,
    // libz, libexpat, libc and the dynamic linker.
    if let Some(debian) = friscy_tests::debian_tar() {
        let r = only(&["/usr/bin/python3"], &debian);
        assert_eq!(r.status, Some(0), "{}", r.stderr);
        assert!(r.stderr.contains("rv2wasm: 6 files"), "{}", r.stderr);
    }
    std::fs::remove_file(&out).ok();
}

/// An image of `build/guest/hello` at /hello, in `dir`.
fn hello_image(dir: &std::path::Path) -> std::path::PathBuf {
    guests_image(dir, &["hello"])
}

/// An image of these `build/guest/` programs at /NAME, in `dir`.
fn guests_image(dir: &std::path::Path, names: &[&str]) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for name in names {
        let data = std::fs::read(built(&format!("guest/{name}"))).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    let image = dir.join("image.tar");
    std::fs::write(&image, b.into_inner().unwrap()).unwrap();
    image
}

/// `friscy-pack --aot --compose`: the image's ELF files translated into the fused
/// kernel's module (exec is linked in there), and run translated.
#[test]
fn pack_aot_compose_runs_the_images_code_translated() {
    let dir = std::env::temp_dir().join(format!("friscy-pack-aot-{}", std::process::id()));
    let image = hello_image(&dir);
    let app = dir.join("app.wasm");
    let r = run(Command::new(built("friscy-pack"))
        .arg(&image)
        .args(["--aot", "--compose", "--quiet", "-o"])
        .arg(&app));
    assert_eq!(r.status, Some(0), "friscy-pack --aot: {}", r.stderr);
    let r = run(Command::new(tool("wasmtime"))
        .args(["run", "--env", "FRISCY_AOT_STATS=1"])
        .arg(&app)
        .args(["--", "/hello", "x"]));
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        ok(&r),
        "hello from riscv64\nargv[0] = /hello\nargv[1] = x\n"
    );
    let (t, i) = stats(&r.stderr);
    assert!(
        t > 9 * i,
        "mostly translated: {t} translated, {i} interpreted"
    );
}

/// `friscy-pack --aot-only PATH`: only that program is translated (the report says which
/// files), and it runs translated while the image's other program runs interpreted.
#[test]
fn pack_aot_only_translates_the_named_program() {
    let dir = std::env::temp_dir().join(format!("friscy-pack-aot-only-{}", std::process::id()));
    let image = guests_image(&dir, &["hello", "exit_status"]);
    let app = dir.join("app.wasm");
    let r = run(Command::new(built("friscy-pack"))
        .arg(&image)
        .args(["--aot-only", "/hello", "--compose", "-o"])
        .arg(&app));
    assert_eq!(r.status, Some(0), "friscy-pack --aot-only: {}", r.stderr);
    assert!(
        r.stderr.contains("friscy-pack: --aot-only: /hello\n"),
        "{}",
        r.stderr
    );
    // Translated now, or found in the cache from an earlier run.
    assert!(
        r.stderr
            .contains("friscy-pack: --aot: translating 1 ELF files")
            || r.stderr
                .contains("friscy-pack: --aot: 1 ELF files, translation cached"),
        "{}",
        r.stderr
    );
    let wasmtime = |args: &[&str]| {
        run(Command::new(tool("wasmtime"))
            .args(["run", "--env", "FRISCY_AOT_STATS=1"])
            .arg(&app)
            .arg("--")
            .args(args))
    };
    let hello = wasmtime(&["/hello"]);
    let other = wasmtime(&["/exit_status", "3"]);
    let bad = run(Command::new(built("friscy-pack"))
        .arg(&image)
        .args(["--aot-only", "/nonesuch", "--compose", "-o"])
        .arg(dir.join("bad.wasm")));
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(ok(&hello), "hello from riscv64\nargv[0] = /hello\n");
    let (t, i) = stats(&hello.stderr);
    assert!(
        t > 9 * i,
        "mostly translated: {t} translated, {i} interpreted"
    );
    let (t, _) = stats(&other.stderr);
    assert_eq!(
        t, 0,
        "/exit_status was not to be translated: {}",
        other.stderr
    );
    assert_eq!(bad.status, Some(1));
    assert!(
        bad.stderr
            .contains("--aot-only: /nonesuch: no such file or directory in the image"),
        "{}",
        bad.stderr
    );
}

/// `friscy-pack --aot` into a bundle directory: `friscy run BUNDLE` runs it with the
/// bundle's own friscy.wasm, which holds the translations (not the host's default
/// component, which has none).
#[test]
fn pack_aot_bundle_runs_translated_under_friscy_run() {
    let dir = std::env::temp_dir().join(format!("friscy-pack-aot-bundle-{}", std::process::id()));
    let image = hello_image(&dir);
    let bundle = dir.join("bundle");
    let r = run(Command::new(built("friscy-pack"))
        .arg(&image)
        .args(["--aot", "--quiet", "-o"])
        .arg(&bundle));
    assert_eq!(r.status, Some(0), "friscy-pack --aot: {}", r.stderr);
    // Not friscy_cmd(): FRISCY_COMPONENT would override the bundle's own component.
    let r = run(Command::new(built("friscy"))
        .args(["run", "-e", "FRISCY_AOT_STATS=1"])
        .arg(&bundle)
        .args(["/hello", "x"]));
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        ok(&r),
        "hello from riscv64\nargv[0] = /hello\nargv[1] = x\n"
    );
    let (t, i) = stats(&r.stderr);
    assert!(
        t > 9 * i,
        "mostly translated: {t} translated, {i} interpreted"
    );
}
