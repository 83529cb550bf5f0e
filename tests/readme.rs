//! README.md's commands, run as written (issue 20: "each with a command that works as
//! written from a fresh clone"). Every line of every ```sh block runs in bash, in order,
//! from a scratch directory that holds what the README's reader is assumed to have
//! (`alpine.tar.gz` and the other Alpine forms it names, a `data/` directory, `build/`)
//! with `build/` and `~/.cargo/bin` on PATH. A line must exit 0, except:
//! - a server (it must still be running after [`SERVERS`]' seconds, and is then stopped),
//! - an interactive `-it` line (it runs on a pseudo-terminal that types `exit`),
//! - a line in [`SKIP`], each with its reason: the network, the host's containerd, or the
//!   README's two top-level commands (this test is part of the second).
//!
//! A new README line is run unless it is added to [`SKIP`]: the table, not the README, says
//! what is not checked.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use friscy_tests::{alpine_tar, docker_save, loud, root, run_limited, tool};

/// Lines not run: (a substring of the line, why).
const SKIP: &[(&str, &str)] = &[
    (
        "scripts/demo.sh",
        "the README's first command (downloads Debian packages); CI runs the second",
    ),
    (
        "scripts/test.sh",
        "the README's second command, which runs this test",
    ),
    ("docker.io/", "pulls from a registry"),
    ("localhost:5000", "needs a registry"),
    ("bundle/", "the bundle comes from the registry pull above"),
    ("example.org", "reaches the internet"),
    (
        "/bin/net echo 127.0.0.1 8080",
        "needs a server on port 8080",
    ),
    (
        "--proxy 'ws://127.0.0.1:8765",
        "needs a proxy and an HTTP server (tests/relay.rs runs this path)",
    ),
    (
        "install -m 0755 build/containerd-shim",
        "installs into the host's /usr/local/bin (tests/containerd.rs runs the shim)",
    ),
];

/// Lines that start servers: (substring, seconds they must stay up).
const SERVERS: &[(&str, u64)] = &[("friscy serve", 20), ("friscy-proxy", 20), ("nc -l", 20)];

/// The ```sh blocks' lines, continuation lines joined, comment-only lines dropped.
fn readme_lines(readme: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            continue;
        }
        pending.push_str(line);
        let full = std::mem::take(&mut pending);
        if !full.trim().is_empty() && !full.trim_start().starts_with('#') {
            lines.push(full.trim().to_string());
        }
    }
    lines
}

/// The scratch directory: the Alpine image in each form the README names, `data/`, and
/// `build/` and the repository's other top-level entries as symlinks.
fn scratch(alpine_gz: &Path) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("friscy-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data")).unwrap();
    for e in std::fs::read_dir(root()).unwrap().flatten() {
        let name = e.file_name();
        if name != ".git" && name != "target" {
            std::os::unix::fs::symlink(e.path(), dir.join(&name)).unwrap();
        }
    }
    std::os::unix::fs::symlink(alpine_gz, dir.join("alpine.tar.gz")).unwrap();
    let plain = alpine_tar().expect("the caller checked for the fixture");
    std::os::unix::fs::symlink(&plain, dir.join("alpine.tar")).unwrap();
    docker_save(
        &plain,
        &dir.join("alpine-docker-save.tar"),
        r#"{"Cmd":["/bin/sh","-c","cat /etc/alpine-release"]}"#,
    );
    for sub in ["rootfs", "alpine-rootfs"] {
        std::fs::create_dir(dir.join(sub)).unwrap();
        let r = run_limited(
            Command::new("tar")
                .arg("-xf")
                .arg(&plain)
                .arg("-C")
                .arg(dir.join(sub)),
            Duration::from_secs(60),
        );
        assert_eq!(r.status, Some(0), "tar: {}", r.stderr);
    }
    dir
}

#[test]
fn every_readme_command_works_as_written() {
    let Some(_) = alpine_tar() else {
        return;
    };
    let alpine_gz = std::env::var_os("FRISCY_ALPINE_TAR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            root().join("../shared/fixtures/alpine-minirootfs-3.20.3-riscv64.tar.gz")
        });
    let alpine_gz = std::fs::canonicalize(alpine_gz).unwrap();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = readme_lines(&readme);
    assert!(lines.len() > 30, "too few README lines found: {lines:?}");
    let dir = scratch(&alpine_gz);
    let cargo_bin = tool("wasmtime").parent().map(Path::to_path_buf);
    let path = format!(
        "{}:{}:{}",
        root().join("build").display(),
        cargo_bin.unwrap_or_default().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut failures = Vec::new();
    let mut ran = 0;
    for line in &lines {
        if let Some((_, why)) = SKIP.iter().find(|(s, _)| line.contains(s)) {
            loud(&format!("readme: SKIPPED ({why}): {line}"));
            continue;
        }
        let server = SERVERS.iter().find(|(s, _)| line.contains(s));
        let interactive = line.contains(" -it ");
        // timeout signals its whole process group (the server's children too); friscy
        // passes SIGTERM to the guest's init, which may ignore it, and stops 10 s later.
        // A server the README starts in the background runs in the foreground here.
        let script = match (server, interactive) {
            (Some((_, secs)), _) => format!(
                "timeout -k 15 {secs} bash -c {}",
                quote(line.trim_end_matches('&').trim_end())
            ),
            (None, true) => format!("printf 'exit\\n' | script -qec {} /dev/null", quote(line)),
            (None, false) => line.clone(),
        };
        // `cargo` lines build the workspace: from the repository itself, whose target
        // directory holds scripts/build.sh's outputs.
        let cwd = if line.starts_with("cargo ") {
            root()
        } else {
            dir.clone()
        };
        let mut cmd = Command::new("bash");
        cmd.args(["-c", &script])
            .current_dir(&cwd)
            .env("PATH", &path)
            .stdin(Stdio::null());
        let r = run_limited(&mut cmd, Duration::from_secs(900));
        ran += 1;
        let ok = match server {
            // timeout's status when the server was still up.
            Some(_) => r.status == Some(124),
            None => r.status == Some(0),
        };
        if !ok {
            failures.push(format!(
                "{line}\n  status {:?}\n  stdout: {}\n  stderr: {}",
                r.status,
                tail(&r.stdout),
                tail(&r.stderr)
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "{} of {ran} README lines failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n    ")
}
