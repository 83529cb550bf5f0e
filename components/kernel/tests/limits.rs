//! The container limits (limits.rs) from inside a guest, natively: the greedy program
//! (tests/guest/limits.c) gets ENOMEM, EAGAIN, EMFILE or ENOSPC at the limit, carries on,
//! and exits by itself; FRISCY_TIMEOUT ends a run that would not.

mod harness;

use harness::{guest, run_image_limited};

fn limits(args: &[&str], limits: &[(&str, &str)]) -> (u8, String, String) {
    let prog = std::fs::read(guest("limits")).unwrap();
    let mut argv = vec!["/bin/limits"];
    argv.extend_from_slice(args);
    run_image_limited(&[("bin/limits", 0o755, prog)], &argv, limits)
}

/// The number before " MiB" after `what` in `out`.
fn mib_after(out: &str, what: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("{what}: {out}"));
    let before = line.split(" MiB").next().unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn a_memory_hog_gets_enomem_and_exits_by_itself() {
    let (status, out, err) = limits(&["mem", "16"], &[("FRISCY_MEMORY", "128m")]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains("malloc: ENOMEM after"), "{out}");
    let got = mib_after(&out, "ENOMEM after");
    assert!((64..=128).contains(&got), "{out}");
    assert!(out.contains("small malloc after: ok"), "{out}");
}

#[test]
fn large_mappings_past_the_limit_fail_but_reservations_are_free() {
    let (status, out, err) = limits(&["mmap"], &[("FRISCY_MEMORY", "256m")]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains("mmap: ENOMEM after 200 MiB"), "{out}");
    assert!(out.contains("PROT_NONE 512 MiB: ok"), "{out}");
    assert!(out.contains("mprotect it RW: ENOMEM"), "{out}");
    assert!(out.contains("mprotect 1 MiB of it RW: ok"), "{out}");
}

#[test]
fn a_noreserve_mapping_costs_nothing_until_touched_then_the_oom_killer_takes_the_toucher() {
    // 1900 MiB mapped under a 256 MiB limit: no commitment, no frames, even when read.
    // The child that writes it all runs out of frames; the OOM killer takes it (the
    // largest process that is not init), and the parent goes on.
    let (status, out, err) = limits(&["noreserve", "1900"], &[("FRISCY_MEMORY", "256m")]);
    assert_eq!(status, 0, "{out}{err}");
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
        err.contains("out of memory: killed process 2 (limits)"),
        "{err}"
    );
    assert_eq!(err.matches("out of memory").count(), 1, "{err}");
}

#[test]
fn fork_fails_with_eagain_at_the_pids_limit_and_the_parent_survives() {
    let (status, out, err) = limits(&["pids", "200"], &[("FRISCY_PIDS_LIMIT", "50")]);
    assert_eq!(status, 0, "{out}{err}");
    // 49 children and the parent make 50 tasks.
    assert!(out.contains("fork: EAGAIN after 49 children"), "{out}");
    assert!(out.contains("fork after reaping: ok"), "{out}");
    let (status, out, _) = limits(&["pids", "20"], &[]);
    assert_eq!((status, out.lines().next()), (0, Some("20 children")));
}

#[test]
fn descriptors_stop_at_rlimit_nofile() {
    let (status, out, err) = limits(&["nofile"], &[("FRISCY_NOFILE", "64")]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains("RLIMIT_NOFILE 64 64"), "{out}");
    assert!(
        out.contains("open: EMFILE with 61 more open, highest fd 63"),
        "{out}"
    );
    assert!(out.contains("dup2 to the limit: EBADF"), "{out}");
    assert!(out.contains("raise past the hard limit: EPERM"), "{out}");
    assert!(out.contains("open below the new soft limit: fd 3"), "{out}");
}

#[test]
fn the_writable_layer_fills_up_with_enospc_and_unlinked_files_free_it() {
    let (status, out, err) = limits(&["disk", "/"], &[("FRISCY_DISK", "24m")]);
    assert_eq!(status, 0, "{out}{err}");
    for round in 0..2 {
        let line = format!("round {round}: write: ENOSPC after 24 MiB; statfs free 0 MiB");
        assert!(out.contains(&line), "{out}");
        let line = format!("round {round}: after close: statfs free 24 MiB");
        assert!(out.contains(&line), "{out}");
    }
    // Unlinked but open: its space is still in use (as on Linux).
    assert!(out.contains("write after unlink: ENOSPC"), "{out}");
}

#[test]
fn the_timeout_kills_the_container() {
    let start = std::time::Instant::now();
    let (status, _, err) = limits(&["spin"], &[("FRISCY_TIMEOUT", "1")]);
    assert_eq!(status, 137, "{err}");
    assert!(err.contains("timeout: killed after 1 s"), "{err}");
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
}
