//! containerd runs linux/riscv64 images in friscy through `containerd-shim-friscy-v1`.
//!
//! Each test starts Debian's containerd (1.6) as root with its own temporary root, state
//! directory, socket and config (never the system's), with build/ (the shim) first on its
//! PATH, imports an OCI image archive of the Alpine minirootfs made here, and drives it
//! with `ctr`, as a user would. A test prints SKIPPED and passes only where containerd
//! cannot start: not root, or no containerd (scripts/setup.sh installs it).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use friscy_tests::{Run, alpine_tar, built, loud, root, run_limited};
use sha2::{Digest, Sha256};

const RUNTIME: &str = "io.containerd.friscy.v1";
const IMAGE: &str = "docker.io/friscy/alpine:3.20.3";
const NAMESPACE: &str = "friscy-test";
const LIMIT: Duration = Duration::from_secs(120);

fn sha256(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

/// An OCI image archive (image-spec image-layout.md, as `ctr image import` reads it) of a
/// rootfs tar, for linux/riscv64: the layer is the uncompressed tar itself. The JSON is
/// written by hand (this crate has no JSON library).
fn oci_archive(layer: &[u8], out: &Path) {
    let config = format!(
        r#"{{"architecture":"riscv64","os":"linux","config":{{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/sh"]}},"rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        sha256(layer)
    )
    .into_bytes();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}}"#,
        sha256(&config),
        config.len(),
        sha256(layer),
        layer.len()
    )
    .into_bytes();
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},"platform":{{"architecture":"riscv64","os":"linux"}},"annotations":{{"io.containerd.image.name":"{IMAGE}","org.opencontainers.image.ref.name":"3.20.3"}}}}]}}"#,
        sha256(&manifest),
        manifest.len()
    )
    .into_bytes();
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    };
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    add("index.json", &index);
    for blob in [&config, &manifest, &layer.to_vec()] {
        add(&format!("blobs/sha256/{}", &sha256(blob)[7..]), blob);
    }
    b.into_inner().unwrap().flush().unwrap();
}

/// A containerd of our own, stopped (with whatever it still runs) when dropped.
struct Containerd {
    dir: PathBuf,
    daemon: Child,
}

impl Containerd {
    /// Start one, or None (SKIPPED) where it cannot run.
    fn start(name: &str) -> Option<Containerd> {
        let uid = std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
            .unwrap_or(1);
        if uid != 0 {
            loud("SKIPPED containerd tests: containerd needs root");
            return None;
        }
        if !Path::new("/usr/bin/containerd").exists() || !Path::new("/usr/bin/ctr").exists() {
            panic!("containerd and ctr are missing: scripts/setup.sh installs them");
        }
        built("containerd-shim-friscy-v1");
        let dir = std::env::temp_dir().join(format!("friscy-ctrd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[debug]
  address = ""
  level = "info"
"#,
            d = dir.display()
        );
        std::fs::write(dir.join("config.toml"), config).unwrap();
        let path = format!(
            "{}:{}",
            root().join("build").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let log = std::fs::File::create(dir.join("containerd.log")).unwrap();
        let daemon = Command::new("/usr/bin/containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting containerd");
        let c = Containerd { dir, daemon };
        let start = Instant::now();
        while c.ctr(&["version"]).status != Some(0) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "containerd did not start:\n{}",
                c.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(c)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default()
    }

    fn ctr_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("/usr/bin/ctr");
        cmd.arg("--address")
            .arg(self.dir.join("containerd.sock"))
            .arg("--namespace")
            .arg(NAMESPACE)
            .args(args);
        cmd
    }

    fn ctr(&self, args: &[&str]) -> Run {
        run_limited(&mut self.ctr_command(args), LIMIT)
    }

    /// Import the Alpine image; false (SKIPPED) without the fixture.
    fn import_alpine(&self) -> bool {
        let Some(tar) = alpine_tar() else {
            return false;
        };
        let archive = self.dir.join("alpine-oci.tar");
        oci_archive(&std::fs::read(tar).unwrap(), &archive);
        let r = self.ctr(&[
            "image",
            "import",
            "--platform",
            "linux/riscv64",
            archive.to_str().unwrap(),
        ]);
        assert_eq!(r.status, Some(0), "import: {}{}", r.stdout, r.stderr);
        true
    }

    /// `ctr run --rm --runtime io.containerd.friscy.v1 [extra] IMAGE ID ARGS...`
    fn run(&self, extra: &[&str], id: &str, args: &[&str]) -> Run {
        let mut a = vec!["run", "--rm", "--runtime", RUNTIME];
        a.extend_from_slice(extra);
        a.push(IMAGE);
        a.push(id);
        a.extend_from_slice(args);
        let r = self.ctr(&a);
        if r.status.is_none() {
            eprintln!("containerd log:\n{}", self.log());
        }
        r
    }

    /// The task's status in `ctr task ls` (RUNNING, STOPPED...), if it is listed.
    fn task_status(&self, id: &str) -> Option<String> {
        let r = self.ctr(&["task", "ls"]);
        r.stdout.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.first() == Some(&id)).then(|| f.get(2).unwrap_or(&"").to_string())
        })
    }

    fn wait_for(&self, what: &str, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(
                start.elapsed() < LIMIT,
                "timed out waiting for {what}\ncontainerd log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Whatever a failed test left running: kill and delete its tasks, so their shims
        // and task processes end, then containerd itself.
        let tasks = self.ctr(&["task", "ls", "-q"]).stdout;
        for id in tasks.lines().filter(|l| !l.is_empty()) {
            self.ctr(&["task", "kill", "-s", "KILL", id]);
        }
        for id in tasks.lines().filter(|l| !l.is_empty()) {
            let start = Instant::now();
            while self.ctr(&["task", "delete", id]).status != Some(0)
                && start.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        for id in self.ctr(&["container", "ls", "-q"]).stdout.lines() {
            self.ctr(&["container", "delete", id]);
        }
        let _ = nix_kill(self.daemon.id(), 15);
        let start = Instant::now();
        while self.daemon.try_wait().ok().flatten().is_none() {
            if start.elapsed() > Duration::from_secs(10) {
                let _ = self.daemon.kill();
                let _ = self.daemon.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// kill(1), without a libc crate in this test crate.
fn nix_kill(pid: u32, signal: u32) -> Option<i32> {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .ok()?
        .code()
}

fn alpine_release() -> String {
    // The minirootfs's own release file, read from the tar itself.
    let tar = alpine_tar().unwrap();
    let mut archive = tar::Archive::new(std::fs::File::open(tar).unwrap());
    for entry in archive.entries().unwrap() {
        let mut e = entry.unwrap();
        if e.path().unwrap().to_string_lossy().trim_start_matches("./") == "etc/alpine-release" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut e, &mut s).unwrap();
            return s;
        }
    }
    panic!("no etc/alpine-release in the Alpine tar");
}

#[test]
fn ctr_runs_a_riscv64_image_and_passes_exit_codes_through() {
    let Some(c) = Containerd::start("run") else {
        return;
    };
    if !c.import_alpine() {
        return;
    }
    let r = c.run(
        &[],
        "t1",
        &[
            "/bin/busybox",
            "sh",
            "-c",
            "echo $((6*7)); cat /etc/alpine-release",
        ],
    );
    assert_eq!(r.status, Some(0), "{}{}\n{}", r.stdout, r.stderr, c.log());
    assert_eq!(r.stdout, format!("42\n{}", alpine_release()));

    // Exit codes, and the spec's environment, working directory and user.
    let r = c.run(&[], "t2", &["/bin/busybox", "sh", "-c", "exit 3"]);
    assert_eq!(r.status, Some(3), "{}{}", r.stdout, r.stderr);
    let r = c.run(
        &["--env", "GREETING=hello", "--cwd", "/etc"],
        "t3",
        &[
            "/bin/busybox",
            "sh",
            "-c",
            "echo $GREETING $(pwd) >&2; id -u",
        ],
    );
    assert_eq!(r.status, Some(0), "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stderr, "hello /etc\n");
    assert_eq!(r.stdout.trim(), "0");
    // A program that is not there: 127, as from docker run.
    let r = c.run(&[], "t4", &["/bin/no-such-program"]);
    assert_eq!(r.status, Some(127), "{}{}", r.stdout, r.stderr);

    // The container's root filesystem is the snapshot read in place, with the image's
    // modes and owners; writes stay in the container.
    let r = c.run(
        &[],
        "t5",
        &[
            "/bin/busybox",
            "sh",
            "-c",
            "stat -c '%a %u %g %N' /etc/shadow /bin/sh; echo x > /etc/motd && cat /etc/motd",
        ],
    );
    assert_eq!(r.status, Some(0), "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.stdout,
        "640 0 42 /etc/shadow\n777 0 0 '/bin/sh' -> '/bin/busybox'\nx\n"
    );
}

/// Whether the shim's component imports the console, through which `ctr task kill`
/// signals reach the guest's init process. Without it the task process ends as the
/// signal's default action would (see runner.rs).
fn component_has_console() -> bool {
    let r = friscy_tests::run(
        Command::new(friscy_tests::tool("wasm-tools"))
            .args(["component", "wit"])
            .arg(built("friscy-dir-open.wasm")),
    );
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    r.stdout.contains("import friscy:tty/console")
}

impl Containerd {
    /// `ctr run --rm` of `args` on a thread, once its task is RUNNING; its pid.
    fn start_background(&self, id: &str, args: &[&str]) -> (std::thread::JoinHandle<Run>, u32) {
        let mut a = vec!["run", "--rm", "--runtime", RUNTIME, IMAGE, id];
        a.extend_from_slice(args);
        let mut cmd = self.ctr_command(&a);
        let handle = std::thread::spawn(move || run_limited(&mut cmd, LIMIT));
        self.wait_for(&format!("{id} to run"), || {
            self.task_status(id).as_deref() == Some("RUNNING")
        });
        let ps = self.ctr(&["task", "ps", id]);
        assert_eq!(ps.status, Some(0), "{}", ps.stderr);
        let pid: u32 = ps
            .stdout
            .lines()
            .nth(1)
            .and_then(|l| l.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no pid in ctr task ps:\n{}", ps.stdout));
        assert!(Path::new(&format!("/proc/{pid}")).exists(), "pid {pid}");
        (handle, pid)
    }
}

#[test]
fn ctr_task_kill_stops_a_container_and_ps_lists_it() {
    let Some(c) = Containerd::start("kill") else {
        return;
    };
    if !c.import_alpine() {
        return;
    }
    let console = component_has_console();

    // An init that handles SIGTERM, as a real image's does.
    let (run, pid) = c.start_background(
        "trapper",
        &[
            "/bin/busybox",
            "sh",
            "-c",
            "trap 'echo got TERM; exit 143' TERM; echo up; sleep 1000 & wait",
        ],
    );
    let k = c.ctr(&["task", "kill", "-s", "TERM", "trapper"]);
    assert_eq!(k.status, Some(0), "{}", k.stderr);
    let r = run.join().unwrap();
    assert_eq!(r.status, Some(143), "{}{}", r.stdout, r.stderr);
    if console {
        // The signal reached the guest's init, whose handler ran.
        assert_eq!(r.stdout, "up\ngot TERM\n");
    }
    c.wait_for("trapper to be deleted", || {
        c.task_status("trapper").is_none()
    });
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} lingers"
    );

    // `sleep 1000` as the init process.
    let (run, pid) = c.start_background("sleeper", &["/bin/busybox", "sleep", "1000"]);
    let k = c.ctr(&["task", "kill", "-s", "TERM", "sleeper"]);
    assert_eq!(k.status, Some(0), "{}", k.stderr);
    if console {
        // Linux (pid_namespaces(7)) and so runc: an init without a handler does not get
        // SIGTERM; SIGKILL ends it (docker stop's timeout, kubelet's grace period).
        std::thread::sleep(Duration::from_secs(2));
        assert_eq!(c.task_status("sleeper").as_deref(), Some("RUNNING"));
        let k = c.ctr(&["task", "kill", "-s", "KILL", "sleeper"]);
        assert_eq!(k.status, Some(0), "{}", k.stderr);
        let r = run.join().unwrap();
        assert_eq!(r.status, Some(137), "{}{}", r.stdout, r.stderr);
    } else {
        let r = run.join().unwrap();
        assert_eq!(r.status, Some(143), "{}{}", r.stdout, r.stderr);
    }
    c.wait_for("sleeper to be deleted", || {
        c.task_status("sleeper").is_none()
    });
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} lingers"
    );
}

#[test]
fn bind_mounts_are_visible_and_two_containers_run_at_once() {
    let Some(c) = Containerd::start("mounts") else {
        return;
    };
    if !c.import_alpine() {
        return;
    }
    let data = c.dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("hello"), "from the host\n").unwrap();
    let ro = format!(
        "type=bind,src={},dst=/data,options=rbind:ro",
        data.display()
    );
    let rw = format!(
        "type=bind,src={},dst=/shared,options=rbind:rw",
        data.display()
    );

    let r = c.run(
        &["--mount", &ro],
        "m1",
        &[
            "/bin/busybox",
            "sh",
            "-c",
            "cat /data/hello; echo x > /data/new",
        ],
    );
    assert_eq!(r.stdout, "from the host\n");
    assert_ne!(r.status, Some(0), "a write to a read-only mount succeeded");
    assert!(!data.join("new").exists());

    // Two containers that each wait for the other's file in a shared mount: they finish
    // only if both run at the same time.
    let script = |me: &str, other: &str| {
        format!(
            "echo up > /shared/{me}; i=0; while [ ! -e /shared/{other} ]; do \
             i=$((i+1)); [ $i -gt 600 ] && exit 9; sleep 0.1; done; echo {me} saw {other}"
        )
    };
    let mut runs = BTreeMap::new();
    for (me, other) in [("a", "b"), ("b", "a")] {
        let mut cmd = c.ctr_command(&[
            "run",
            "--rm",
            "--runtime",
            RUNTIME,
            "--mount",
            &rw,
            IMAGE,
            &format!("pair-{me}"),
            "/bin/busybox",
            "sh",
            "-c",
            &script(me, other),
        ]);
        runs.insert(me, std::thread::spawn(move || run_limited(&mut cmd, LIMIT)));
    }
    for (me, t) in runs {
        let r = t.join().unwrap();
        let other = if me == "a" { "b" } else { "a" };
        assert_eq!(r.status, Some(0), "{me}: {}{}", r.stdout, r.stderr);
        assert_eq!(r.stdout, format!("{me} saw {other}\n"));
    }
    assert_eq!(std::fs::read_to_string(data.join("a")).unwrap(), "up\n");
}

#[test]
fn ctr_run_t_gives_the_guest_a_terminal() {
    let Some(c) = Containerd::start("tty") else {
        return;
    };
    if !c.import_alpine() {
        return;
    }
    // ctr needs a terminal of its own for -t: script(1) gives it one.
    let ctr = format!(
        "/usr/bin/ctr --address {} --namespace {NAMESPACE} run -t --rm --runtime {RUNTIME} \
         {IMAGE} tty1 /bin/busybox sh -c '[ -t 0 ] && [ -t 1 ] && echo on-a-tty; exit 4'",
        c.dir.join("containerd.sock").display()
    );
    let r = run_limited(
        Command::new("script").args(["-q", "-e", "-c", &ctr, "/dev/null"]),
        LIMIT,
    );
    assert!(r.stdout.contains("on-a-tty"), "{}{}", r.stdout, r.stderr);
    assert_eq!(r.status, Some(4), "{}{}", r.stdout, r.stderr);
}
