//! Container limits, docker's in friscy's terms, and the accounting behind them.
//!
//! | variable | docker | what it bounds | when it is reached |
//! |---|---|---|---|
//! | `FRISCY_MEMORY` | `--memory` | guest memory: frames in use, and commitments (below) | brk/mmap/mremap/mprotect/fork/execve fail with ENOMEM past the commitments' limit; the OOM killer when a touched page finds no frame |
//! | `FRISCY_PIDS_LIMIT` | `--pids-limit` | tasks (processes, threads, zombies) | fork and clone fail with EAGAIN |
//! | `FRISCY_NOFILE` | `--ulimit nofile=` | RLIMIT_NOFILE (soft[:hard]) | EMFILE |
//! | `FRISCY_DISK` | `--disk` (docker's `--storage-opt size=`) | the writable layer's bytes and inodes | ENOSPC |
//! | `FRISCY_TIMEOUT` | `--timeout` (`timeout -s KILL`) | wall-clock time of the run | every process is killed, status 137 |
//!
//! The kernel reads them from its own environment (and hides them from the guest), so the
//! sealed component under `wasmtime run --env FRISCY_MEMORY=256m` behaves exactly as the
//! native host with `--memory 256m`, which sets the same variables.
//!
//! **Memory** is limited twice, with the same number:
//!
//! - *Frames* (the hard limit, as a memory cgroup's `memory.max`): exec allocates a 4 KiB
//!   frame when a page is first written (or copied on write after fork), and counts them
//!   over every address space and shared object; reads of untouched memory share one zero
//!   frame. Past the limit, the access that needed a frame faults with `OutOfMemory`, and
//!   the kernel's OOM killer (`Kernel::oom`) kills the process with the largest resident
//!   set, sparing process 1 while others are left; the rest of the container runs on.
//!   Untouched mappings, however large, cost nothing here.
//! - *Commitments* (so that a greedy program sees ENOMEM and can stop by itself before the
//!   OOM killer has to act), counted the way Linux counts them under
//!   `vm.overcommit_memory=2` (Committed_AS), from each process's memory map: every
//!   writable mapping (private or shared, anonymous or file-backed) and the heap count for
//!   their whole length, touched or not; read-only, executable-only and PROT_NONE
//!   reservations count nothing until mprotect makes them writable (which is charged
//!   then). Two exceptions keep reservations free, as in Linux's default (heuristic)
//!   mode: MAP_NORESERVE mappings never count (V8's and glibc's arena reservations use
//!   it), and the main thread's stack, mapped at its full 8 MiB at exec where Linux starts
//!   with a few pages, counts nothing. A fork charges the child's copy; a vfork child
//!   shares its parent's.
//!
//! The writable layer is *not* part of `--memory`: it has its own limit (`FRISCY_DISK`),
//! as a container's writable layer is not part of its memory cgroup; both live in host
//! memory, and the native host bounds the two together.
//!
//! The commitments are a function of the memory maps, recomputed when something asks for
//! more, so nothing can drift: a process that unmaps or exits simply stops counting.

use friscy_abi::Errno;
use friscy_exec::Prot;

use crate::mm::{MemoryMap, Vma, VmaName};
use crate::process::{Pid, Process};
use crate::{Kernel, signal};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const PAGE: u64 = 4096;

/// Guest memory when `FRISCY_MEMORY` is unset (the native host uses the smaller of this
/// and a quarter of the host's RAM). A component cannot see the host's RAM; what bounds
/// this is what one wasm32 memory can hold (4 GiB) beside exec's own tables and, in the
/// fused build, the kernel and the writable layer.
pub const DEFAULT_MEMORY: u64 = 2 * GIB;
/// The writable layer's size when `FRISCY_DISK` is unset (the native host: the smaller of
/// this and a quarter of the host's RAM).
pub const DEFAULT_DISK: u64 = GIB;
/// Tasks when `FRISCY_PIDS_LIMIT` is unset: enough for any build or test suite, few
/// enough that a fork bomb stops long before the host notices.
pub const DEFAULT_PIDS: u32 = 1024;
/// RLIMIT_NOFILE when `FRISCY_NOFILE` is unset: (soft, hard), a Linux login's.
pub const DEFAULT_NOFILE: (u64, u64) = (1024, 4096);
/// The most descriptors a process may ever have (Linux's fs.nr_open default).
pub const NR_OPEN: u64 = 1 << 20;

/// The limits of one run (one container).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of committed guest memory.
    pub memory: u64,
    /// Tasks: processes (zombies included, until reaped) and threads.
    pub pids: u32,
    /// RLIMIT_NOFILE's (soft, hard) for process 1, inherited by everything it starts.
    pub nofile: (u64, u64),
    /// Bytes of the writable layer (its inodes are bounded by it too, as tmpfs's are).
    pub disk: u64,
    /// Nanoseconds of wall-clock time for the whole run.
    pub timeout_ns: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: DEFAULT_MEMORY,
            pids: DEFAULT_PIDS,
            nofile: DEFAULT_NOFILE,
            disk: DEFAULT_DISK,
            timeout_ns: None,
        }
    }
}

/// The environment variables this module reads.
pub const VARS: [&str; 5] = [
    "FRISCY_MEMORY",
    "FRISCY_PIDS_LIMIT",
    "FRISCY_NOFILE",
    "FRISCY_DISK",
    "FRISCY_TIMEOUT",
];

impl Limits {
    /// Apply one `FRISCY_*` variable. Returns Ok(false) for a variable that is not a
    /// limit, and an error message for a malformed value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, String> {
        let bad = |what: &str| format!("{key}={value:?}: expected {what}");
        match key {
            "FRISCY_MEMORY" => {
                self.memory = parse_size(value)
                    .filter(|&m| m >= 4 * MIB)
                    .ok_or_else(|| bad("a size of at least 4m, like 256m or 2g"))?;
            }
            "FRISCY_DISK" => {
                self.disk = parse_size(value).ok_or_else(|| bad("a size, like 512m or 4g"))?;
            }
            "FRISCY_PIDS_LIMIT" => {
                // docker: 0 or -1 mean unlimited.
                self.pids = match value.trim() {
                    "0" | "-1" => u32::MAX,
                    v => v
                        .parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| bad("a number of tasks (-1 for no limit)"))?,
                };
            }
            "FRISCY_NOFILE" => {
                let num = |s: &str| s.trim().parse::<u64>().ok().filter(|&n| n <= NR_OPEN);
                let (soft, hard) = value.split_once(':').unwrap_or((value, value));
                self.nofile = num(soft)
                    .zip(num(hard))
                    .filter(|(s, h)| s <= h && *s >= 3)
                    .ok_or_else(|| bad("SOFT[:HARD] descriptors, at least 3, at most 1048576"))?;
            }
            "FRISCY_TIMEOUT" => {
                self.timeout_ns = match value.trim() {
                    "" | "0" => None,
                    v => Some(parse_duration(v).ok_or_else(|| bad("a duration, like 90 or 5m"))?),
                };
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// A size as docker takes it: a number of bytes with an optional unit b, k, m, g or t
/// (powers of 1024, case-insensitive, an optional trailing "b" or "ib": "256m", "1GiB").
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let s = s
        .strip_suffix("ib")
        .or_else(|| s.strip_suffix('b'))
        .unwrap_or(&s);
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = match &s[digits.len()..] {
        "" => 1,
        "k" => 1 << 10,
        "m" => MIB,
        "g" => GIB,
        "t" => 1 << 40,
        _ => return None,
    };
    let n: f64 = digits.trim().parse().ok()?;
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let bytes = n * unit as f64;
    (bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// A duration: seconds, or a number with ms, s, m or h ("90", "1.5s", "5m").
pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, unit_ns) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e6)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1e9)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60e9)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600e9)
    } else {
        (s, 1e9)
    };
    let n: f64 = num.trim().parse().ok()?;
    let ns = n * unit_ns;
    (n.is_finite() && n > 0.0 && ns < u64::MAX as f64).then_some(ns as u64)
}

/// Whether a mapping with this protection counts as committed memory (see the module
/// comment).
fn charged(v: &Vma, prot: Prot) -> bool {
    prot.contains(Prot::WRITE) && !v.noreserve && !matches!(v.name, VmaName::Stack | VmaName::Vdso)
}

/// The bytes a memory map commits.
pub fn commit_of(mm: &MemoryMap) -> u64 {
    mm.vmas
        .iter()
        .filter(|(_, v)| charged(v, v.prot))
        .map(|(&s, v)| v.end - s)
        .sum()
}

/// The bytes of [start, end) that would be newly committed if every mapping there became
/// `prot` (mprotect): the parts not committed now.
pub fn commit_growth(mm: &MemoryMap, start: u64, end: u64, prot: Prot) -> u64 {
    mm.vmas
        .range(..end)
        .filter(|(s, v)| v.end > start && **s < end)
        .filter(|(_, v)| charged(v, prot) && !charged(v, v.prot))
        .map(|(&s, v)| v.end.min(end) - s.max(start))
        .sum()
}

/// Whether growing or moving this mapping (mremap) commits memory.
pub fn vma_commits(v: &Vma) -> bool {
    charged(v, v.prot)
}

/// Whether a new mapping with this protection counts (anonymous or file, not the stack,
/// not MAP_NORESERVE).
pub fn commits(prot: Prot) -> bool {
    prot.contains(Prot::WRITE)
}

/// The bytes a new mapping of [start, end) with `prot` adds: its length, less what the
/// mappings it replaces (MAP_FIXED) commit already.
pub fn map_growth(mm: &MemoryMap, start: u64, end: u64, prot: Prot) -> u64 {
    if !commits(prot) {
        return 0;
    }
    let replaced: u64 = mm
        .vmas
        .range(..end)
        .filter(|(s, v)| v.end > start && **s < end && charged(v, v.prot))
        .map(|(&s, v)| v.end.min(end) - s.max(start))
        .sum();
    (end - start).saturating_sub(replaced)
}

impl Kernel {
    /// Bytes of memory the container has committed: every live process's memory map, with
    /// `cur` (the process whose syscall runs, which is not in `procs`) counted from its
    /// own map. A vfork child shares its parent's map and counts nothing.
    pub fn committed(&self, cur: &Process) -> u64 {
        let others: u64 = self
            .procs
            .values()
            .filter(|p| p.pid != cur.pid && !p.is_zombie() && p.vfork_parent.is_none())
            .map(|p| commit_of(&p.mm))
            .sum();
        let own = if cur.vfork_parent.is_none() {
            commit_of(&cur.mm)
        } else {
            0
        };
        others + own
    }

    /// Ask for `bytes` more committed memory on behalf of `cur`, before mapping it:
    /// ENOMEM if the container would pass its memory limit (nothing is recorded: the
    /// mapping itself is the record).
    pub fn mem_charge(&mut self, cur: &Process, bytes: u64) -> Result<(), Errno> {
        if bytes == 0 {
            return Ok(());
        }
        let used = self.committed(cur);
        if used.saturating_add(bytes) > self.limits.memory {
            if self.trace {
                self.report(&format!(
                    "ENOMEM: {} KiB more would pass the memory limit ({} of {} MiB committed)",
                    bytes.div_ceil(1024),
                    used / MIB,
                    self.limits.memory / MIB
                ));
            }
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// How many tasks count against the pids limit: threads of live processes, and one
    /// for each zombie not yet reaped.
    pub fn tasks(&self, cur: &Process) -> u64 {
        let count = |p: &Process| p.threads.len().max(1) as u64;
        let others: u64 = self
            .procs
            .values()
            .filter(|p| p.pid != cur.pid)
            .map(count)
            .sum();
        others + count(cur)
    }

    /// One more task for `cur` (fork, clone, a thread): EAGAIN past the pids limit, as
    /// the pids cgroup makes fork(2) fail.
    pub fn task_charge(&mut self, cur: &Process) -> Result<(), Errno> {
        if self.tasks(cur) >= u64::from(self.limits.pids) {
            if self.trace {
                self.report(&format!(
                    "EAGAIN: the pids limit ({}) is reached",
                    self.limits.pids
                ));
            }
            return Err(Errno::EAGAIN);
        }
        Ok(())
    }

    /// The OOM killer: memory ran out where it could not be refused (exec had no frame for
    /// a page a process touched). Kills the process with the largest resident set (exec's
    /// frames it refers to), preferring any other over process 1 (whose death ends the
    /// container), with one line on the diagnostic stream, as Linux logs "Out of memory:
    /// Killed process N (comm)". The others run on.
    ///
    /// `cur` is the process that needed memory (out of `procs` while it runs). Returns the
    /// victim's pid, or None when a victim is already dying (its memory comes back when the
    /// scheduler ends it; `cur` gives up its time slice so that happens first). If `cur`
    /// is the victim, SIGKILL is pending for it. Otherwise the faulting access is retried
    /// when `cur` runs again.
    pub fn oom(&mut self, cur: &mut Process) -> Option<Pid> {
        let in_use = self.machine.memory_in_use();
        if in_use.saturating_add(PAGE) <= self.limits.memory {
            // No frame below the limit: the host's memory ran out first (`wasmtime run -W
            // max-memory-size`, the native host's store limit), and exec keeps what it has.
            // That is the container's memory from now on, so commitments past it get
            // ENOMEM instead of more OOM kills.
            self.report(&format!(
                "out of memory at {} MiB, below the limit of {} MiB: the host has no more; \
                 the limit is now {} MiB",
                in_use / MIB,
                self.limits.memory / MIB,
                in_use / MIB
            ));
            self.limits.memory = in_use;
        }
        // Killed (SIGKILL sets `exit`) but not ended yet: its memory is about to return.
        let dying = |p: &Process| p.exit.is_some() && !p.is_zombie();
        let gone = |p: &Process| p.exit.is_some() || p.is_zombie();
        if self.procs.values().any(|p| p.pid != cur.pid && dying(p)) && !gone(cur) {
            self.yield_now = true;
            return None;
        }
        let mut candidates: Vec<(Pid, friscy_exec::SpaceId, Vec<u8>)> = self
            .procs
            .values()
            .filter(|p| p.pid != cur.pid && !gone(p) && p.vfork_parent.is_none())
            .map(|p| (p.pid, p.space, p.comm.clone()))
            .collect();
        if !gone(cur) {
            candidates.push((cur.pid, cur.space, cur.comm.clone()));
        }
        // The largest; process 1 only if it is the only one left.
        let (pid, size, comm) = candidates
            .into_iter()
            .map(|(pid, space, comm)| (pid, self.machine.resident(space), comm))
            .max_by_key(|(pid, size, _)| (*pid != 1, *size, *pid))?;
        let limit = self.limits.memory;
        self.report(&format!(
            "out of memory: killed process {pid} ({}), {} MiB resident; limit {} MiB, {} MiB in use",
            String::from_utf8_lossy(&comm),
            size / MIB,
            limit / MIB,
            self.machine.memory_in_use() / MIB
        ));
        let info = signal::SigInfo {
            signo: signal::SIGKILL,
            code: signal::SI_KERNEL,
            ..signal::SigInfo::default()
        };
        if pid == cur.pid {
            cur.death_reason = Some(format!(
                "{}: Killed (out of memory)",
                String::from_utf8_lossy(&cur.exe)
            ));
            crate::sched::post_signal(cur, signal::SIGKILL, info);
        } else {
            if let Some(p) = self.procs.get_mut(&pid) {
                p.death_reason = Some(format!(
                    "{}: Killed (out of memory)",
                    String::from_utf8_lossy(&p.exe)
                ));
                crate::sched::post_signal(p, signal::SIGKILL, info);
            }
            self.yield_now = true;
        }
        self.progress += 1;
        Some(pid)
    }

    /// (total, free) bytes of memory as sysinfo(2) and /proc/meminfo report them: the
    /// container's limit (at most what wasm32 can address) and what of it exec has not
    /// handed out as frames.
    pub fn memory_figures(&self) -> (u64, u64) {
        let total = self.limits.memory.min(4 * GIB);
        (total, total.saturating_sub(self.machine.memory_in_use()))
    }

    /// Set the run's limits: the kernel's own, exec's frames, and the writable layer's
    /// size in vfs.
    pub fn apply_limits(&mut self, limits: Limits) {
        self.machine.set_memory_limit(limits.memory);
        self.fs.set_capacity(limits.disk);
        self.limits = limits;
    }

    /// Free the storage of unlinked files nobody has open any more (vfs keeps them, not
    /// knowing about descriptors): when a write finds the writable layer full, and before
    /// statfs reports its usage. `writing` is the inode being
    /// written, whose open file the caller holds borrowed. Returns the bytes freed.
    pub fn reclaim_space(&mut self, cur: &Process, writing: friscy_vfs::Ino) -> u64 {
        let mut open = vec![writing];
        for p in self.procs.values().chain(std::iter::once(cur)) {
            // A removed working directory is still in use, as an open one is.
            open.push(p.cwd);
            for (_, e) in p.fds.iter() {
                if let Ok(f) = e.file.try_borrow()
                    && let crate::fd::FileKind::Inode(ino) = f.kind
                {
                    open.push(ino);
                }
            }
        }
        // Mapped pages of an unlinked file not read yet are read now, before its storage
        // goes: mappings hold no descriptor.
        for ino in self.page_cache_unread_files() {
            if !open.contains(&ino) && self.fs.stat(ino).is_ok_and(|st| st.nlink == 0) {
                let _ = self.page_cache_settle(ino);
            }
        }
        self.fs.reclaim(&open)
    }

    /// Whether the run's time is up (`FRISCY_TIMEOUT`), counted from the first call.
    pub(crate) fn timed_out(&mut self) -> bool {
        let Some(limit) = self.limits.timeout_ns else {
            return false;
        };
        let now = self.host.monotonic_ns();
        let start = *self.started_ns.get_or_insert(now);
        now.saturating_sub(start) >= limit
    }

    /// When the run's time is up, in monotonic nanoseconds (for the idle wait).
    pub(crate) fn timeout_deadline(&self) -> Option<u64> {
        Some(self.started_ns?.saturating_add(self.limits.timeout_ns?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::ExitStatus;
    use crate::{Host, Stdio};

    /// A host that keeps the diagnostic lines.
    struct Lines(std::rc::Rc<std::cell::RefCell<Vec<String>>>);
    impl Host for Lines {
        fn read_stdin(&mut self, _: usize) -> Option<Vec<u8>> {
            Some(Vec::new())
        }
        fn write(&mut self, _: Stdio, _: &[u8]) -> Result<(), Errno> {
            Ok(())
        }
        fn wall_clock(&self) -> (i64, u32) {
            (0, 0)
        }
        fn monotonic_ns(&self) -> u64 {
            0
        }
        fn random(&mut self, _: &mut [u8]) {}
        fn diagnostic(&mut self, line: &str) {
            self.0.borrow_mut().push(line.to_string());
        }
        fn wait(&mut self, _: bool, _: Option<u64>, _: Vec<u32>) {}
    }

    /// A process with `mib` MiB of committed heap, of which `touched` MiB are written (have
    /// frames).
    fn process(k: &mut Kernel, pid: Pid, mib: u64, touched: u64) -> Process {
        let space = k.machine.space_new();
        let hart = k.machine.hart_new(space);
        let mut mm = MemoryMap::new(0x20000);
        let rw = Prot::READ | Prot::WRITE;
        mm.insert(0x100000, 0x100000 + mib * MIB, rw, VmaName::Heap);
        k.machine.map(space, 0x100000, mib * MIB, rw).unwrap();
        for page in 0..touched * MIB / 4096 {
            k.machine
                .write(space, 0x100000 + page * 4096, &[1])
                .unwrap();
        }
        Process {
            pid,
            ppid: 1,
            pgid: 1,
            sid: 1,
            space,
            mm,
            fds: Default::default(),
            cwd: k.fs.root(),
            root: None,
            umask: 0o022,
            sched: Default::default(),
            exe: format!("/bin/p{pid}").into_bytes(),
            comm: format!("p{pid}").into_bytes(),
            argv: Vec::new(),
            envp: Vec::new(),
            rlimits: [None; 16],
            threads: vec![crate::process::Thread::new(pid, hart)],
            cur: 0,
            sigactions: [signal::SigAction::default(); 64],
            pending: 0,
            siginfo: [signal::SigInfo::default(); 64],
            state: crate::process::State::Running,
            exit: None,
            exit_signal: signal::SIGCHLD,
            continued: false,
            vfork_parent: None,
            itimer_real: None,
            itimer_cpu: [None; 2],
            aimed: Vec::new(),
            dumpable: true,
            pdeath_sig: 0,
            child_subreaper: false,
            timer_slack: crate::process::DEFAULT_TIMER_SLACK,
            mce_kill: crate::process::PR_MCE_KILL_DEFAULT,
            thp_disable: false,
            personality: 0,
            membarrier: 0,
            timers: Vec::new(),
            instret: 0,
            children_instret: 0,
            death_reason: None,
            ctty: None,
            creds: crate::creds::Creds::root(),
            creds_of: pid,
        }
    }

    #[test]
    fn the_oom_killer_takes_the_largest_process_and_spares_init() {
        let lines = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        // An empty image: two zero blocks.
        let vfs = friscy_vfs::Vfs::new(vec![0u8; 1024]).unwrap();
        let mut k = Kernel::new(
            Box::new(friscy_exec::Machines::new()),
            Box::new(vfs),
            Box::new(Lines(lines.clone())),
        );
        // Init is the biggest, but another process goes first; the faulting one (3) is
        // not the biggest of the rest, and neither is 4, whose large heap is untouched.
        let init = process(&mut k, 1, 3, 3);
        let big = process(&mut k, 2, 2, 2);
        let mut cur = process(&mut k, 3, 1, 1);
        let lazy = process(&mut k, 4, 500, 0);
        k.procs.insert(1, init);
        k.procs.insert(2, big);
        k.procs.insert(4, lazy);
        assert_eq!(k.committed(&cur), 506 * MIB);
        assert_eq!(k.machine.memory_in_use(), 6 * MIB);
        // The frames are all there may be (a touched page found none).
        k.limits.memory = 6 * MIB;
        assert_eq!(k.oom(&mut cur), Some(2));
        assert_eq!(k.procs[&2].exit, Some(ExitStatus::Signal(signal::SIGKILL)));
        assert!(k.yield_now && cur.exit.is_none());
        assert_eq!(
            lines.borrow().as_slice(),
            [
                "friscy: out of memory: killed process 2 (p2), 2 MiB resident; \
                 limit 6 MiB, 6 MiB in use"
            ]
        );
        // While the victim is dying, nobody else is killed: its memory is about to return.
        k.yield_now = false;
        assert_eq!(k.oom(&mut cur), None);
        assert!(k.yield_now);
        // Once it is gone, the faulting process itself, then init, are all that is left.
        k.procs.remove(&2);
        k.procs.remove(&4);
        assert_eq!(k.oom(&mut cur), Some(3));
        assert_eq!(cur.exit, Some(ExitStatus::Signal(signal::SIGKILL)));
        assert_eq!(k.oom(&mut cur), Some(1));
    }

    #[test]
    fn running_out_below_the_limit_makes_what_there_is_the_limit() {
        // A host that gave exec less than the limit (wasmtime's -W max-memory-size): the
        // OOM killer acts, and the limit comes down to what exec holds, so commitments
        // past it get ENOMEM from then on.
        let lines = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let vfs = friscy_vfs::Vfs::new(vec![0u8; 1024]).unwrap();
        let mut k = Kernel::new(
            Box::new(friscy_exec::Machines::new()),
            Box::new(vfs),
            Box::new(Lines(lines.clone())),
        );
        let mut cur = process(&mut k, 3, 4, 3);
        assert_eq!(k.oom(&mut cur), Some(3));
        assert_eq!(k.limits.memory, 3 * MIB);
        assert_eq!(
            lines.borrow()[0],
            "friscy: out of memory at 3 MiB, below the limit of 2048 MiB: the host has no \
             more; the limit is now 3 MiB"
        );
        assert_eq!(k.mem_charge(&cur, MIB), Err(Errno::ENOMEM));
    }

    #[test]
    fn sizes_and_durations_parse_as_docker_writes_them() {
        assert_eq!(parse_size("256m"), Some(256 * MIB));
        assert_eq!(parse_size("1G"), Some(GIB));
        assert_eq!(parse_size("1.5g"), Some(3 * GIB / 2));
        assert_eq!(parse_size("512MiB"), Some(512 * MIB));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("10kb"), Some(10240));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("-1m"), None);
        assert_eq!(parse_size("1x"), None);
        assert_eq!(parse_duration("90"), Some(90_000_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("250ms"), Some(250_000_000));
        assert_eq!(parse_duration("2m"), Some(120_000_000_000));
        assert_eq!(parse_duration("0"), None);
        assert_eq!(parse_duration("soon"), None);
    }

    #[test]
    fn variables_set_limits_and_bad_values_are_errors() {
        let mut l = Limits::default();
        assert_eq!(l.set("FRISCY_MEMORY", "256m"), Ok(true));
        assert_eq!(l.memory, 256 * MIB);
        assert!(l.set("FRISCY_MEMORY", "1k").is_err());
        assert_eq!(l.set("FRISCY_PIDS_LIMIT", "50"), Ok(true));
        assert_eq!(l.pids, 50);
        assert_eq!(l.set("FRISCY_PIDS_LIMIT", "-1"), Ok(true));
        assert_eq!(l.pids, u32::MAX);
        assert!(l.set("FRISCY_PIDS_LIMIT", "many").is_err());
        assert_eq!(l.set("FRISCY_NOFILE", "64"), Ok(true));
        assert_eq!(l.nofile, (64, 64));
        assert_eq!(l.set("FRISCY_NOFILE", "32:128"), Ok(true));
        assert_eq!(l.nofile, (32, 128));
        assert!(l.set("FRISCY_NOFILE", "128:32").is_err());
        assert!(l.set("FRISCY_NOFILE", "2").is_err());
        assert_eq!(l.set("FRISCY_DISK", "1g"), Ok(true));
        assert_eq!(l.disk, GIB);
        assert_eq!(l.set("FRISCY_TIMEOUT", "5m"), Ok(true));
        assert_eq!(l.timeout_ns, Some(300_000_000_000));
        assert_eq!(l.set("FRISCY_TRACE", "1"), Ok(false));
    }

    #[test]
    fn writable_mappings_commit_except_the_stack() {
        let mut mm = MemoryMap::new(0x20000);
        let rw = Prot::READ | Prot::WRITE;
        mm.insert(0x100000, 0x104000, rw, VmaName::Anonymous);
        mm.insert(
            0x104000,
            0x108000,
            Prot::READ,
            VmaName::File(b"/lib".to_vec()),
        );
        mm.insert(0x200000, 0x210000, Prot(0), VmaName::Anonymous);
        mm.insert(0x300000, 0xb00000, rw, VmaName::Stack);
        mm.insert(0x30000, 0x31000, rw, VmaName::Heap);
        assert_eq!(commit_of(&mm), 0x4000 + 0x1000);
        // mprotect RW over a read-only file page, a reservation and committed memory:
        // only the first two are new.
        assert_eq!(commit_growth(&mm, 0x102000, 0x208000, rw), 0x4000 + 0x8000);
        assert_eq!(commit_growth(&mm, 0x100000, 0x104000, Prot::READ), 0);
        assert!(commits(rw) && !commits(Prot::READ | Prot::EXEC));
        // MAP_FIXED over committed memory adds only the rest.
        assert_eq!(map_growth(&mm, 0x102000, 0x106000, rw), 0x2000);
        assert_eq!(map_growth(&mm, 0x102000, 0x106000, Prot::READ), 0);
    }
}
