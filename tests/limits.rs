//! Issue 18's probes, end to end: a greedy or hostile guest under the sealed component in
//! `wasmtime run` and in the native host gets ENOMEM, EAGAIN, EMFILE or ENOSPC and the run
//! goes on; the limits come from `FRISCY_*` variables in both. Also the bugs found on the
//! way (timerfd under wasmtime, an ET_EXEC interpreter, a full stdout, EROFS, a FIFO as
//! the image, the decompression cache).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use friscy_tests::{Run, alpine_tar, built, friscy, run, run_limited, tool};

const LIMIT: Duration = Duration::from_secs(300);

/// `wasmtime run [WASMTIME_OPTS] --env K=V... friscy.wasm -- ARGS`, bounded in time.
fn wasmtime_with(opts: &[&str], env: &[&str], args: &[&str]) -> Run {
    let mut c = Command::new(tool("wasmtime"));
    c.arg("run").args(opts);
    for kv in env {
        c.arg("--env").arg(kv);
    }
    c.arg(built("friscy.wasm")).arg("--").args(args);
    run_limited(&mut c, LIMIT)
}

/// `friscy run [OPTS] IMAGE ARGS`, bounded in time.
fn friscy_with(image: &Path, opts: &[&str], args: &[&str]) -> Run {
    let mut c = Command::new(built("friscy"));
    c.arg("run").args(opts).arg(image).args(args);
    run_limited(&mut c, LIMIT)
}

/// The peak RSS `/usr/bin/time -f "peak-rss-kib %M"` reported.
fn peak_rss_mib(r: &Run) -> u64 {
    r.stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak-rss-kib "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no peak RSS in {}", r.stderr))
        / 1024
}

fn ok(r: &Run) -> &str {
    assert_eq!(
        r.status,
        Some(0),
        "stdout: {}\nstderr: {}",
        r.stdout,
        r.stderr
    );
    &r.stdout
}

#[test]
fn a_memory_hog_gets_enomem_and_exits_by_itself_under_wasmtime() {
    // Each linear memory may grow to 1 GiB; the guest's limit is well below, so the
    // kernel refuses first, and nothing aborts.
    let r = wasmtime_with(
        &["-W", "max-memory-size=1073741824"],
        &["FRISCY_MEMORY=256m"],
        &["/bin/limits", "mem", "32"],
    );
    let out = ok(&r);
    assert!(out.contains("malloc: ENOMEM after"), "{out}");
    assert!(out.contains("small malloc after: ok"), "{out}");
}

#[test]
fn a_small_wasmtime_memory_ends_in_the_oom_killer_not_an_abort() {
    // No FRISCY_MEMORY below wasmtime's -W max-memory-size: exec's memory runs out first.
    // The process that needed the page is killed (status 137 for a lone process 1), the
    // limit comes down to what there is, and nothing aborts.
    let r = wasmtime_with(
        &["-W", "max-memory-size=268435456"],
        &[],
        &["/bin/limits", "mem", "32"],
    );
    assert_eq!(r.status, Some(137), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("below the limit of 2048 MiB: the host has no more")
            && r.stderr
                .contains("out of memory: killed process 1 (limits)")
            && !r.stderr.contains("backtrace"),
        "{}",
        r.stderr
    );
    // With another process to blame, the container goes on.
    let r = wasmtime_with(
        &["-W", "max-memory-size=268435456"],
        &[],
        &["/bin/limits", "noreserve", "1900"],
    );
    let out = ok(&r);
    assert!(
        out.contains("child touching it: killed by signal 9"),
        "{out}"
    );
    assert!(out.contains("parent after: ok"), "{out}");
}

#[test]
fn a_memory_hog_in_the_native_host_gets_enomem() {
    // --memory, and the same limit as a variable (what the option becomes).
    for opts in [&["--memory", "256m"][..], &["-e", "FRISCY_MEMORY=256m"]] {
        let r = friscy_with(&built("rootfs.tar"), opts, &["/bin/limits", "mem", "32"]);
        let out = ok(&r);
        assert!(out.contains("malloc: ENOMEM after"), "{out}");
        assert!(out.contains("small malloc after: ok"), "{out}");
    }
}

#[test]
fn a_memory_hog_in_the_native_host_stays_within_twice_its_limit() {
    // Issue 18: with --memory 256m the host's peak RSS stays under ~2x the limit.
    let mut c = Command::new("/usr/bin/time");
    c.args(["-f", "peak-rss-kib %M"])
        .arg(built("friscy"))
        .args(["run", "--memory", "256m"])
        .arg(built("rootfs.tar"))
        .args(["/bin/limits", "mem", "32"]);
    let r = run_limited(&mut c, LIMIT);
    let out = ok(&r);
    assert!(out.contains("malloc: ENOMEM after"), "{out}");
    let peak = peak_rss_mib(&r);
    assert!(peak < 2 * 256, "peak RSS {peak} MiB");
}

#[test]
fn an_untouched_noreserve_mapping_costs_nothing_and_the_oom_killer_spares_the_rest() {
    // Issue 18: a 1.9 GiB MAP_NORESERVE mapping cost 2 GB of host memory, untouched. Now
    // it costs no frames; the child that writes all of it is OOM-killed, the parent and
    // the run go on, and the host stays within about twice the limit.
    let mut c = Command::new("/usr/bin/time");
    c.args(["-f", "peak-rss-kib %M"])
        .arg(built("friscy"))
        .args(["run", "--memory", "256m"])
        .arg(built("rootfs.tar"))
        .args(["/bin/limits", "noreserve", "1900"]);
    let r = run_limited(&mut c, LIMIT);
    let out = ok(&r);
    assert!(
        out.contains("MAP_NORESERVE 1900 MiB: ok, reads 0, resident grew 0 MiB"),
        "{out}"
    );
    assert!(
        out.contains("child touching it: killed by signal 9"),
        "{out}"
    );
    assert!(out.contains("parent after: ok"), "{out}");
    assert!(
        r.stderr
            .contains("out of memory: killed process 2 (limits)"),
        "{}",
        r.stderr
    );
    let peak = peak_rss_mib(&r);
    assert!(peak < 2 * 256, "peak RSS {peak} MiB");
    // The same under plain wasmtime, with the limit as a variable.
    let r = wasmtime_with(
        &[],
        &["FRISCY_MEMORY=256m"],
        &["/bin/limits", "noreserve", "1900"],
    );
    let out = ok(&r);
    assert!(
        out.contains("child touching it: killed by signal 9"),
        "{out}"
    );
    assert!(out.contains("parent after: ok"), "{out}");
}

#[test]
fn fork_gets_eagain_at_the_pids_limit_and_the_shell_survives() {
    // Issue 18's probe on Alpine: 200 background sleeps with a limit of 50. busybox sh
    // reports "can't fork" and (as on Linux, being a script) exits 2; the container, the
    // shell that started it and the sleeps it made go on, and once some are gone, forks
    // work again.
    let Some(alpine) = alpine_tar() else { return };
    let script = "sh -c 'i=0; while [ $i -lt 200 ]; do sleep 1000 & i=$((i+1)); done'; \
                  echo \"inner: $?\"; killall sleep && echo killed; sleep 0.2; \
                  sh -c 'echo child ok'; echo survived";
    let r = friscy_with(&alpine, &["--pids-limit", "50"], &["/bin/sh", "-c", script]);
    assert_eq!(
        ok(&r),
        "inner: 2\nkilled\nchild ok\nsurvived\n",
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("can't fork: Resource temporarily unavailable"),
        "{}",
        r.stderr
    );
    // The same under wasmtime, through --env.
    let r = wasmtime_with(
        &[],
        &["FRISCY_PIDS_LIMIT=50"],
        &["/bin/limits", "pids", "200"],
    );
    let out = ok(&r);
    assert!(out.contains("fork: EAGAIN after 49 children"), "{out}");
}

#[test]
fn writing_four_and_a_half_gib_to_tmp_ends_in_enospc() {
    let r = wasmtime_with(
        &[],
        &["FRISCY_DISK=512m"],
        &["/bin/limits", "disk", "/tmp", "4608"],
    );
    let out = ok(&r);
    assert!(
        out.contains("round 0: write: ENOSPC after 512 MiB; statfs free 0 MiB"),
        "{out}"
    );
    assert!(
        out.contains("round 1: write: ENOSPC after 512 MiB"),
        "{out}"
    );
}

#[test]
fn a_bounded_wasmtime_memory_gives_enospc_not_an_abort() {
    // No FRISCY_DISK below the engine's limit: vfs's own memory runs out, and a write
    // that needs a page gets ENOSPC instead of aborting the component.
    let r = wasmtime_with(
        &["-W", "max-memory-size=268435456"],
        &["FRISCY_DISK=4g"],
        &["/bin/limits", "disk", "/tmp", "1024"],
    );
    let out = ok(&r);
    assert!(
        out.contains("round 0: write: ENOSPC after"),
        "{out}\n{}",
        r.stderr
    );
}

#[test]
fn descriptors_and_time_are_limited_under_wasmtime() {
    let r = wasmtime_with(&[], &["FRISCY_NOFILE=64"], &["/bin/limits", "nofile"]);
    let out = ok(&r);
    assert!(out.contains("open: EMFILE with 61 more open"), "{out}");
    let r = wasmtime_with(&[], &["FRISCY_TIMEOUT=1"], &["/bin/limits", "spin"]);
    assert_eq!(r.status, Some(137), "{}", r.stderr);
    assert!(
        r.stderr.contains("timeout: killed after 1 s"),
        "{}",
        r.stderr
    );
    // A malformed limit is refused before anything runs.
    let r = wasmtime_with(&[], &["FRISCY_MEMORY=lots"], &["/hello"]);
    assert_eq!(r.status, Some(125), "{}", r.stderr);
    assert!(r.stderr.contains("FRISCY_MEMORY"), "{}", r.stderr);
    // The limits are friscy's, not the guest's.
    let r = wasmtime_with(&[], &["FRISCY_NOFILE=64", "OTHER=1"], &["/bin/environ"]);
    assert!(!ok(&r).contains("FRISCY_NOFILE"), "{}", r.stdout);
}

#[test]
fn the_native_host_checks_limits_and_interrupts_a_stuck_run() {
    let image = built("rootfs.tar");
    let r = friscy_with(&image, &["-e", "FRISCY_PIDS_LIMIT=many"], &["/hello"]);
    assert_eq!(r.status, Some(125), "{}", r.stderr);
    assert!(r.stderr.contains("FRISCY_PIDS_LIMIT"), "{}", r.stderr);
    // A bad option value is clap's usage error.
    let r = friscy_with(&image, &["--memory", "lots"], &["/hello"]);
    assert_eq!(r.status, Some(2), "{}", r.stderr);
    let r = friscy_with(&image, &["--timeout", "1"], &["/bin/limits", "spin"]);
    assert_eq!(r.status, Some(137), "{}", r.stderr);
    assert!(r.stderr.contains("timeout"), "{}", r.stderr);
    // --disk and --ulimit reach the kernel.
    let r = friscy_with(
        &image,
        &["--disk", "24m"],
        &["/bin/limits", "disk", "/tmp", "100"],
    );
    let out = ok(&r);
    assert!(out.contains("round 0: write: ENOSPC after 24 MiB"), "{out}");
    let r = friscy_with(
        &image,
        &["--ulimit", "nofile=64"],
        &["/bin/limits", "nofile"],
    );
    assert!(ok(&r).contains("RLIMIT_NOFILE 64 64"), "{}", r.stdout);
}

#[test]
fn timerfd_absolute_times_work_under_wasmtime() {
    // Issue 18: EINVAL for TFD_TIMER_ABSTIME, then "deadlock", under wasmtime run only.
    let r = wasmtime_with(&[], &[], &["/bin/ipc_timerfd", "/tmp/w"]);
    assert_eq!(r.status, Some(0), "{}\n{}", r.stdout, r.stderr);
    assert!(
        !r.stdout
            .contains("EINVAL\ntimerfd_settime(bfd, TFD_TIMER_ABSTIME")
    );
    assert!(!r.stderr.contains("deadlock"), "{}", r.stderr);
}

#[test]
fn an_et_exec_interpreter_runs_at_its_link_address_as_under_qemu() {
    let r = wasmtime_with(&[], &[], &["/bin/elf_interp_exec_main", "x", "y"]);
    let out = ok(&r);
    assert_eq!(
        out,
        "interpreter at its link address: 1\nargv[0] /bin/elf_interp_exec_main\n\
         argv[1] x\nargv[2] y\nAT_ENTRY is the program's: 1\n"
    );
    let rootfs = friscy_tests::root().join("build/rootfs");
    let q = run(Command::new("qemu-riscv64")
        .arg("-L")
        .arg(&rootfs)
        .arg(rootfs.join("bin/elf_interp_exec_main"))
        .args(["x", "y"]));
    assert_eq!(q.status, Some(0), "{}", q.stderr);
    let skip_argv0 = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| !l.starts_with("argv[0]"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(skip_argv0(out), skip_argv0(&q.stdout));
}

#[test]
fn a_full_stdout_is_enospc_for_the_guest() {
    // `> /dev/full`: ENOSPC, not EPIPE and SIGPIPE (status 141).
    for host in ["wasmtime", "friscy"] {
        let mut c = match host {
            "wasmtime" => {
                let mut c = Command::new(tool("wasmtime"));
                c.arg("run").arg(built("friscy.wasm"));
                c
            }
            _ => {
                let mut c = Command::new(built("friscy"));
                c.arg("run").arg("--rootfs").arg(built("rootfs.tar"));
                c
            }
        };
        c.args(["--", "/bin/stdout_errors"])
            .stdout(std::fs::File::create("/dev/full").unwrap());
        let out = c.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err, "write: ENOSPC\n", "{host}");
        assert_eq!(out.status.code(), Some(0), "{host}");
    }
}

#[test]
fn a_fifo_as_rootfs_is_refused_at_once() {
    let dir = std::env::temp_dir().join(format!("friscy-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("image.tar");
    let made = run(Command::new("mkfifo").arg(&fifo));
    assert_eq!(made.status, Some(0), "{}", made.stderr);
    let r = run_limited(
        Command::new(built("friscy"))
            .arg("run")
            .arg("--rootfs")
            .arg(&fifo)
            .args(["--", "/hello"]),
        Duration::from_secs(20),
    );
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(r.status, Some(125), "{}", r.stderr);
    assert!(r.stderr.contains("is a FIFO"), "{}", r.stderr);
}

#[test]
fn the_rootfs_cache_keeps_valid_tars_only_and_can_be_pruned() {
    let dir = std::env::temp_dir().join(format!("friscy-cache-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cache = dir.join("cache");
    let gz = |name: &str, data: &[u8]| {
        use std::io::Write;
        let p = dir.join(name);
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        std::fs::write(&p, e.finish().unwrap()).unwrap();
        p
    };
    let friscy_cached = |image: &Path, args: &[&str]| {
        run(Command::new(built("friscy"))
            .env("FRISCY_CACHE", &cache)
            .args(args)
            .arg("--rootfs")
            .arg(image)
            .args(["--", "/hello"]))
    };
    // Megabytes of zeros compress to almost nothing and are not a tar: refused, not kept.
    let zeros = gz("zeros.tar.gz", &vec![0u8; 16 << 20]);
    let r = friscy_cached(&zeros, &["run"]);
    assert_eq!(r.status, Some(125), "{}", r.stderr);
    assert!(r.stderr.contains("not a tar"), "{}", r.stderr);
    let entries = |c: &Path| {
        std::fs::read_dir(c.join("rootfs"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    assert_eq!(entries(&cache), 0);
    // A real image is kept, and `friscy cache prune --all` removes it.
    let image = gz("image.tar.gz", &std::fs::read(built("rootfs.tar")).unwrap());
    let r = friscy_cached(&image, &["run"]);
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert_eq!(entries(&cache), 1);
    let r = run(Command::new(built("friscy"))
        .env("FRISCY_CACHE", &cache)
        .args(["cache", "prune", "--all"]));
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert!(r.stderr.contains("removed 1 cached image"), "{}", r.stderr);
    assert_eq!(entries(&cache), 0);
    // A cache limit that is not a size is an error that names it, for either cache.
    for var in ["FRISCY_ROOTFS_CACHE_MAX", "FRISCY_COMPILED_CACHE_MAX"] {
        let r = run(Command::new(built("friscy"))
            .env("FRISCY_CACHE", &cache)
            .env(var, "lots")
            .args(["cache", "prune"]));
        assert_ne!(r.status, Some(0), "{var}: {}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("{var}=\"lots\": expected a size like 4g")),
            "{var}: {}",
            r.stderr
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn hello_still_runs_with_every_limit_set() {
    let env = [
        "FRISCY_MEMORY=64m",
        "FRISCY_PIDS_LIMIT=8",
        "FRISCY_NOFILE=32",
        "FRISCY_DISK=8m",
        "FRISCY_TIMEOUT=60",
    ];
    let r = wasmtime_with(&[], &env, &["/hello", "a"]);
    assert!(ok(&r).starts_with("hello from riscv64\n"));
    let r = friscy(
        &built("rootfs.tar"),
        &["-e", "FRISCY_MEMORY=64m"],
        &["/hello"],
    );
    assert_eq!(r.status, Some(0), "{}", r.stderr);
}
