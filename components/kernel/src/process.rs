//! Guest processes and threads, as the kernel schedules them.
//!
//! A `Process` is a thread group: one address space and memory map, the file descriptor
//! table, working directory, identity, signal dispositions and limits. Its `threads` are
//! the tasks the scheduler runs, each with its own hart (registers), signal mask and
//! pending set, and the state of a syscall it is parked in. Processes and threads are green
//! tasks inside one Wasm instance: the kernel runs one hart at a time for a budget of
//! instructions, round robin.

use friscy_abi::Errno;
use friscy_exec::{HartId, SpaceId};
use friscy_vfs::Ino;

use crate::fd::FdTable;
use crate::mm::MemoryMap;
use crate::signal::{SigAction, SigInfo, SigSet};

pub type Pid = i32;

/// What a parked thread is waiting for. Whatever it is, the thread also wakes for a signal
/// it does not block, and at its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Any progress elsewhere in the kernel (a pipe written or closed, a child exiting):
    /// the syscall is retried and parks again if its condition still does not hold.
    Event,
    /// As `Event`, and also input on the host's stdin.
    Stdin,
    /// Only FUTEX_WAKE (or a signal, or the deadline).
    Futex,
    /// Only a signal or the deadline (pause, sigsuspend, nanosleep).
    Signal,
    /// A signal of this set becoming pending, blocked or not (rt_sigtimedwait).
    SigWait(SigSet),
    /// A vfork parent: until the child calls execve or exits. The clone call has
    /// already returned; nothing is retried.
    VforkDone(Pid),
}

/// A thread parked in a syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub wake: Wake,
    /// Monotonic nanoseconds at which the syscall times out.
    pub deadline: Option<u64>,
    /// `Kernel::progress` when the thread parked: an `Event` waiter is retried once it
    /// has moved on.
    pub progress: u64,
    /// Whether SA_RESTART restarts the call after a handler (read, write, wait4...), or
    /// it fails with EINTR (poll, nanosleep, sigsuspend...), as signal(7) lists.
    pub restartable: bool,
}

/// State a syscall keeps across its restarts while the thread is parked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Restart {
    /// The absolute deadline computed the first time (so retries do not extend it).
    pub deadline: Option<u64>,
    /// The thread sits in a futex wait queue.
    pub futex_queued: bool,
    /// Bytes a blocking transfer has already moved (a pipe write, a stream socket send or
    /// MSG_WAITALL receive, sendfile or splice into a socket): its retries go on from
    /// there, and a signal ends it with this count rather than EINTR (pipe(7), socket(7)).
    pub done: u64,
    /// sendmmsg/recvmmsg: the messages already sent or received (`Some` once the call
    /// has parked). A signal ends the call with this count, plus one for a message that
    /// was partly sent (`done`).
    pub msgs: Option<u64>,
}

pub struct Thread {
    pub tid: Pid,
    pub hart: HartId,
    pub sigmask: SigSet,
    /// Signals sent to this thread (tgkill, faults).
    pub pending: SigSet,
    /// The mask to restore after a syscall that swapped it in (ppoll, pselect6,
    /// rt_sigsuspend): restored when the call returns, or saved in the signal frame.
    pub saved_sigmask: Option<SigSet>,
    /// set_tid_address(2) / CLONE_CHILD_CLEARTID: zeroed and futex-woken at thread exit.
    pub clear_child_tid: u64,
    pub robust_list: (u64, u64),
    /// sigaltstack(2): (ss_sp, ss_size, ss_flags).
    pub altstack: (u64, u64, u32),
    pub block: Option<Block>,
    pub restart: Option<Restart>,
    /// Set by FUTEX_WAKE for a thread in a futex wait.
    pub futex_woken: bool,
    /// The siginfo of signals pending for this thread (a fault's address, tgkill's
    /// sender, a thread timer's id and value), one per signal number: kept apart from the
    /// process's, so that a process-wide signal of the same number (ITIMER_PROF beside a
    /// thread's CPU timer, as Go's profiler has) cannot overwrite it.
    pub siginfo: Vec<SigInfo>,
    /// exit(2) was called: the scheduler removes the thread.
    pub exiting: bool,
    /// The name a thread other than the leader gave itself (prctl PR_SET_NAME), or was
    /// given by the thread that made it; `None`: the process's `comm`.
    pub comm: Option<Vec<u8>>,
    /// Instructions this thread retired (CLOCK_THREAD_CPUTIME_ID).
    pub instret: u64,
    /// This thread's credentials while another thread's are the process's `creds`
    /// (`Process::select`); `None` for the thread whose they are.
    pub creds: Option<Box<crate::creds::Creds>>,
}

impl Thread {
    /// Makes `info.signo` pending for this thread with `info`.
    pub fn post(&mut self, info: SigInfo) {
        let sig = info.signo;
        self.pending |= crate::signal::bit(sig);
        self.siginfo.retain(|i| i.signo != sig);
        self.siginfo.push(info);
    }

    /// Takes `sig` off this thread's pending set, with the siginfo it was posted with
    /// (`None` for one posted without: SIGPIPE).
    pub fn take(&mut self, sig: u8) -> Option<SigInfo> {
        self.pending &= !crate::signal::bit(sig);
        let i = self.siginfo.iter().position(|i| i.signo == sig)?;
        Some(self.siginfo.swap_remove(i))
    }

    pub fn new(tid: Pid, hart: HartId) -> Thread {
        Thread {
            tid,
            hart,
            sigmask: 0,
            pending: 0,
            saved_sigmask: None,
            clear_child_tid: 0,
            robust_list: (0, 0),
            altstack: (0, 0, crate::signal::SS_DISABLE),
            block: None,
            restart: None,
            futex_woken: false,
            siginfo: Vec::new(),
            exiting: false,
            comm: None,
            instret: 0,
            creds: None,
        }
    }
}

/// What setpriority(2), sched_setscheduler(2) and ioprio_set(2) set: friscy reports it
/// back (getpriority, /proc/PID/stat) but runs every thread alike.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sched {
    /// -20 (most favoured) to 19.
    pub nice: i8,
    /// SCHED_OTHER (0), SCHED_FIFO, SCHED_RR, SCHED_BATCH or SCHED_IDLE.
    pub policy: u32,
    /// The real-time priority: 1 to 99 under SCHED_FIFO and SCHED_RR, else 0.
    pub priority: u8,
    /// SCHED_RESET_ON_FORK: children start with the defaults.
    pub reset_on_fork: bool,
    /// ioprio_set(2)'s class << 13 | level (0: IOPRIO_CLASS_NONE, the default).
    pub ioprio: u16,
}

/// A process's life cycle as wait(2) sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Running,
    /// Stopped by a signal; `reported` once a waiter has seen it (WUNTRACED).
    Stopped {
        sig: u8,
        reported: bool,
    },
    /// Exited or killed, not yet reaped.
    Zombie(ExitStatus),
}

pub struct Process {
    pub pid: Pid,
    pub ppid: Pid,
    pub pgid: Pid,
    pub sid: Pid,
    /// The controlling terminal (signal->tty in Linux): /dev/tty, job control.
    pub ctty: Option<crate::tty::TtyRef>,
    pub space: SpaceId,
    pub mm: MemoryMap,
    pub fds: FdTable,
    pub cwd: Ino,
    /// chroot(2)'s root directory (None: the container's own root).
    pub root: Option<Ino>,
    pub umask: u32,
    /// Nice value and scheduling policy (syscalls/sched.rs): recorded and reported.
    pub sched: Sched,
    /// User and group ids, supplementary groups and capabilities (creds.rs) of the thread
    /// `creds_of`: as on Linux each thread has its own (a set*id syscall, setfsuid or
    /// capset changes the caller's alone; glibc, musl and Go make setuid and its kin
    /// process-wide by running the syscall in every thread). The running thread's are
    /// here, so every check reads `p.creds`; the others' wait in `Thread::creds`
    /// (`Process::select` swaps them). Another process looking at this one sees the
    /// credentials of the thread that ran last.
    pub creds: crate::creds::Creds,
    pub creds_of: Pid,
    /// The executable's canonical path (/proc/self/exe).
    pub exe: Vec<u8>,
    /// The task name (/proc/self/comm, ps): the last component of the path execve was
    /// given, before symlinks (so `sh`, not `dash`), at most 15 bytes.
    pub comm: Vec<u8>,
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
    /// setrlimit(2) values; `None` means the default.
    pub rlimits: [Option<(u64, u64)>; 16],
    pub threads: Vec<Thread>,
    /// Index in `threads` of the thread whose syscall is being handled.
    pub cur: usize,
    /// Dispositions, indexed by signal number - 1 (shared by all threads: CLONE_SIGHAND).
    pub sigactions: [SigAction; 64],
    /// Signals sent to the process as a whole (kill).
    pub pending: SigSet,
    /// The siginfo of each pending signal, by number - 1.
    pub siginfo: [SigInfo; 64],
    pub state: State,
    /// Set by exit_group, a fatal signal or a fault: every thread ends and the process
    /// becomes a zombie with this status.
    pub exit: Option<ExitStatus>,
    /// The signal the parent gets when this process ends (clone's low byte; SIGCHLD).
    pub exit_signal: u8,
    /// A SIGCONT that a waiter has not yet seen (WCONTINUED).
    pub continued: bool,
    /// Borrowing its parent's address space after vfork until execve or exit.
    pub vfork_parent: Option<Pid>,
    /// ITIMER_REAL: (next expiry in monotonic ns, interval ns).
    pub itimer_real: Option<(u64, u64)>,
    /// ITIMER_VIRTUAL and ITIMER_PROF: (next expiry, interval) in ns of the process's CPU
    /// time (`cpu_ns`; both count user time, as nearly all of it is here).
    pub itimer_cpu: [Option<(u64, u64)>; 2],
    /// Process-wide pending signals aimed at one thread, as Linux's complete_signal()
    /// picks the thread that was running for ITIMER_PROF's and ITIMER_VIRTUAL's: the
    /// other threads leave them to it while it lives and does not block them (a
    /// profiler's sample must land in the code that used the time).
    pub aimed: Vec<(u8, Pid)>,
    /// prctl PR_SET_DUMPABLE (core dumps and ptrace access; reported back only).
    pub dumpable: bool,
    /// prctl PR_SET_PDEATHSIG: the signal this process gets when its parent exits (0:
    /// none); a fork's child starts without one.
    pub pdeath_sig: u8,
    /// prctl PR_SET_CHILD_SUBREAPER: orphaned descendants are adopted by this process
    /// rather than by process 1 (tini, dumb-init and s6 ask for it). Not inherited.
    pub child_subreaper: bool,
    /// prctl PR_SET_TIMERSLACK (ns), PR_MCE_KILL's policy and PR_SET_THP_DISABLE:
    /// recorded and reported back (no timer here is coarsened, no memory error or huge
    /// page exists); inherited by fork.
    pub timer_slack: u64,
    pub mce_kill: u8,
    pub thp_disable: bool,
    /// personality(2): PER_LINUX (0) and flags, inherited by fork and execve.
    pub personality: u32,
    /// membarrier(2) registrations (the REGISTER_* command bits); execve and fork clear
    /// them with the address space.
    pub membarrier: u64,
    /// timer_create(2)'s timers, by id (syscalls/posix_timer.rs).
    pub timers: Vec<Option<crate::syscalls::posix_timer::PosixTimer>>,
    /// Instructions retired by this process and by its reaped children (getrusage, times).
    pub instret: u64,
    pub children_instret: u64,
    /// Why the process died of a signal, for the one-line report if it is the first one.
    pub death_reason: Option<String>,
}

/// prctl PR_GET_TIMERSLACK's default: 50 us.
pub const DEFAULT_TIMER_SLACK: u64 = 50_000;
/// PR_MCE_KILL_GET's answer until a policy is set: the system's default.
pub const PR_MCE_KILL_DEFAULT: u8 = 2;

/// RLIMIT_NOFILE, the resource number of the limit the container sets.
pub const RLIMIT_NOFILE: usize = 7;

/// Process 1's setrlimit(2) table: the defaults, but RLIMIT_NOFILE from the container's
/// limits (`FRISCY_NOFILE`, docker's `--ulimit nofile=`).
pub fn initial_rlimits(limits: &crate::limits::Limits) -> [Option<(u64, u64)>; 16] {
    let mut r = [None; 16];
    r[RLIMIT_NOFILE] = Some(limits.nofile);
    r
}

/// CPU time in ns for instructions retired: the nominal 100 per microsecond that
/// getrusage and times report (CLOCK_*_CPUTIME_ID, ITIMER_VIRTUAL and ITIMER_PROF too).
pub fn instret_ns(instret: u64) -> u64 {
    instret.saturating_mul(NS_PER_INSTRUCTION)
}

/// The instructions that take at least `ns` of CPU time (`instret_ns`'s inverse, rounded
/// up).
pub fn instret_for_ns(ns: u64) -> u64 {
    ns.div_ceil(NS_PER_INSTRUCTION)
}

const NS_PER_INSTRUCTION: u64 = 10;

/// The comm of a program started by `path`.
pub fn comm_of(path: &[u8]) -> Vec<u8> {
    let base = path.rsplit(|&c| c == b'/').next().unwrap_or(path);
    base[..base.len().min(15)].to_vec()
}

impl Process {
    /// The calling thread's name (prctl PR_GET_NAME): the process's comm for the leader.
    pub fn thread_name(&self) -> &[u8] {
        self.name_of(self.thread())
    }

    /// A thread's name: its own (prctl PR_SET_NAME, task/TID/comm), or the process's.
    pub fn name_of<'a>(&'a self, t: &'a Thread) -> &'a [u8] {
        match &t.comm {
            Some(own) if t.tid != self.pid => own,
            _ => &self.comm,
        }
    }

    /// Name thread `tid` (the leader's name is the process's comm): the first 15 bytes.
    pub fn set_name(&mut self, tid: Pid, name: &[u8]) -> Result<(), Errno> {
        let name = name[..name.len().min(15)].to_vec();
        if tid == self.pid {
            self.comm = name;
            return Ok(());
        }
        let t = self
            .threads
            .iter_mut()
            .find(|t| t.tid == tid)
            .ok_or(Errno::ESRCH)?;
        t.comm = Some(name);
        Ok(())
    }

    /// Make thread `i` the current one, its credentials the process's `creds`.
    pub fn select(&mut self, i: usize) {
        self.cur = i;
        let tid = self.threads[i].tid;
        if tid == self.creds_of {
            return;
        }
        // Every thread but `creds_of` holds its own (clone gives them); one that did not
        // would take the process's. The box moves to the thread giving way: no allocation
        // per switch.
        let mut held = self.threads[i]
            .creds
            .take()
            .unwrap_or_else(|| Box::new(self.creds.clone()));
        std::mem::swap(&mut self.creds, &mut held);
        let of = self.creds_of;
        if let Some(t) = self.threads.iter_mut().find(|t| t.tid == of) {
            t.creds = Some(held);
        }
        self.creds_of = tid;
    }

    /// The thread whose syscall is being handled.
    pub fn thread(&self) -> &Thread {
        &self.threads[self.cur]
    }
    pub fn thread_mut(&mut self) -> &mut Thread {
        &mut self.threads[self.cur]
    }
    /// The calling thread's hart.
    pub fn hart(&self) -> HartId {
        self.threads[self.cur].hart
    }
    pub fn tid(&self) -> Pid {
        self.threads[self.cur].tid
    }
    /// Note how far the calling thread's parked call has got (`Restart::done`).
    pub fn set_done(&mut self, done: u64) {
        self.thread_mut()
            .restart
            .get_or_insert_with(Restart::default)
            .done = done;
    }
    /// The CPU time the process has used, in ns (`instret_ns`).
    pub fn cpu_ns(&self) -> u64 {
        instret_ns(self.instret)
    }

    pub fn is_zombie(&self) -> bool {
        matches!(self.state, State::Zombie(_))
    }
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Code(u8),
    /// Killed by a signal; `core` if its default action dumps core.
    Signal(u8),
}

impl ExitStatus {
    /// The status a shell reports: the code, or 128 + the signal number.
    pub fn shell_status(self) -> u8 {
        match self {
            ExitStatus::Code(c) => c,
            ExitStatus::Signal(s) => 128u8.wrapping_add(s),
        }
    }

    /// The status word wait4(2) stores (WIFEXITED / WIFSIGNALED encodings).
    pub fn wait_status(self) -> i32 {
        match self {
            ExitStatus::Code(c) => (c as i32) << 8,
            ExitStatus::Signal(s) => {
                let core = if crate::signal::default_action(s) == crate::signal::DefaultAction::Core
                {
                    0x80
                } else {
                    0
                };
                s as i32 | core
            }
        }
    }
}
