//! The scheduler: runs every guest thread round robin, a time slice of instructions at a
//! time, parks threads in blocking syscalls, delivers signals on the way back to user mode,
//! and turns exits into zombies for wait(2).
//!
//! One process at a time is taken out of `Kernel::procs` while its threads run, so that
//! syscall handlers get it as `&mut Process` next to `&mut Kernel`; handlers that reach
//! other processes (wait4, kill, futex wake) look in `procs` and check the current one.
//!
//! Blocking works as in Linux's -ERESTARTSYS: a handler that cannot finish parks its thread
//! (`Kernel::park`) and the thread's pc goes back to the `ecall`. When what it waits for may
//! have happened, the thread simply runs again and the syscall is retried from scratch; a
//! signal handler either restarts it (SA_RESTART) or makes it fail with EINTR.

use friscy_abi::Errno;
use friscy_exec::{Access, FaultCause, StopReason};

use crate::process::{Block, ExitStatus, Pid, Process, Restart, State, Wake};
use crate::signal::{self, DefaultAction, SigInfo, SigSet, bit};
use crate::syscalls::{self, SysResult};
use crate::{FutexKey, FutexWaiter, Kernel};

/// Instructions a thread runs before the next one gets the hart.
pub const TIME_SLICE: u64 = 1 << 20;
/// How often the kernel looks at sockets of a net backend that has no pollables.
const NET_POLL_NS: u64 = 5_000_000;
/// How long queued TCP bytes may take to go out once the run is over.
const FLUSH_NS: u64 = 30_000_000_000;

impl Kernel {
    /// Run process 1 and everything it starts until process 1 exits (then, as in a
    /// container, every other process is killed). Returns process 1's status.
    pub fn run_init(&mut self, init: Process) -> ExitStatus {
        let init_pid = init.pid;
        self.procs.insert(init_pid, init);
        self.timed_out(); // starts the clock of FRISCY_TIMEOUT
        loop {
            let mut ran = false;
            let pids: Vec<Pid> = self.procs.keys().copied().collect();
            for pid in pids {
                // Before every slice: what the host typed (so Ctrl-C reaches a busy
                // loop), resizes and forwarded signals, tty signals and hang-ups.
                self.tty_tick();
                let Some(mut p) = self.procs.remove(&pid) else {
                    continue;
                };
                let mut reaped = false;
                if !p.is_zombie() {
                    ran |= self.run_process(&mut p);
                    if p.exit.is_some() {
                        reaped = self.terminate(&mut p);
                        ran = true;
                    }
                }
                if !reaped {
                    self.procs.insert(pid, p);
                }
            }
            if self.net_queued {
                // TCP send queues drain while the guests run.
                self.net_queued = self.net.pump();
            }
            if let Some(State::Zombie(status)) = self.procs.get(&init_pid).map(|p| p.state) {
                let init = self.procs.remove(&init_pid).expect("init");
                if let ExitStatus::Signal(sig) = status {
                    let why = init
                        .death_reason
                        .clone()
                        .unwrap_or_else(|| signal::describe(sig).to_string());
                    self.report(&why);
                }
                self.kill_everything();
                self.flush_net();
                return status;
            }
            if self.timed_out() {
                // FRISCY_TIMEOUT (--timeout): the whole container goes, as `timeout -s KILL`.
                let secs = self.limits.timeout_ns.unwrap_or(0) as f64 / 1e9;
                self.report(&format!("timeout: killed after {secs} s"));
                self.kill_everything();
                return ExitStatus::Signal(signal::SIGKILL);
            }
            if !ran && !self.idle() {
                self.report("deadlock: every guest process is waiting and nothing can wake them");
                let listening = self.net.local_listeners();
                if let Some(a) = listening.first() {
                    // A server without --net: only the guest could have connected.
                    self.report(&format!(
                        "the guest listens on {a} of its own loopback, which only it can reach: run with --net to serve the host"
                    ));
                }
                self.kill_everything();
                self.flush_net();
                return ExitStatus::Signal(signal::SIGKILL);
            }
        }
    }

    /// Give each thread of `p` a time slice. Returns whether anything happened.
    fn run_process(&mut self, p: &mut Process) -> bool {
        // Signal-driven I/O: what became ready since the last look (another process's
        // write, data from the host during the idle wait) reaches the files' owners.
        self.fasync_check(p);
        if let Some((expiry, interval)) = p.itimer_real
            && self.host.monotonic_ns() >= expiry
        {
            p.itimer_real = (interval > 0).then(|| (expiry.saturating_add(interval), interval));
            let info = SigInfo {
                signo: signal::SIGALRM,
                code: signal::SI_KERNEL,
                ..SigInfo::default()
            };
            post_signal(p, signal::SIGALRM, info);
        }
        if crate::syscalls::posix_timer::next_expiry(p).is_some() {
            let now = self.host.monotonic_ns();
            if crate::syscalls::posix_timer::fire(p, now) {
                self.progress += 1;
            }
        }
        let mut ran = false;
        let mut i = 0;
        while i < p.threads.len() && p.exit.is_none() {
            if matches!(p.state, State::Stopped { .. }) {
                break;
            }
            p.select(i);
            ran |= self.run_thread(p);
            if p.exit.is_none() && p.threads.get(i).is_some_and(|t| t.exiting) {
                self.remove_thread(p, i);
                ran = true;
                continue;
            }
            i += 1;
        }
        ran
    }

    /// Run the current thread until its slice is used up, it parks, or it exits.
    fn run_thread(&mut self, p: &mut Process) -> bool {
        let mut progressed = false;
        let mut budget = TIME_SLICE;
        // The hart's instret as last read: one read per run, not two (each is a call into
        // exec, across components in the composed build). execve replaces the hart.
        let mut last: Option<(friscy_exec::HartId, u64)> = None;
        self.yield_now = false;
        loop {
            if p.exit.is_some() || p.thread().exiting || matches!(p.state, State::Stopped { .. }) {
                return progressed;
            }
            if self.deliver_signal(p) {
                progressed = true;
                continue;
            }
            if let Some(b) = p.thread().block {
                if !self.ready(p, &b) {
                    return progressed;
                }
                p.thread_mut().block = None;
                if let Wake::VforkDone(_) = b.wake {
                    progressed = true;
                }
            }
            if budget == 0 || self.yield_now {
                return true;
            }
            let hart = p.hart();
            let before = match last {
                Some((h, n)) if h == hart => n,
                _ => self.machine.instret(hart),
            };
            // A CPU-time timer expires at an instruction, as the tick finds the thread
            // wherever it is: run up to it, not to the next syscall, so that a profiler's
            // samples land where the time went.
            let slice = match cpu_timers_due_in(p) {
                Some(n) => budget.min(n.max(1)),
                None => budget,
            };
            let stop = self.machine.run(hart, slice);
            let after = self.machine.instret(hart);
            last = Some((hart, after));
            let used = after - before;
            budget = budget.saturating_sub(used);
            p.instret += used;
            p.thread_mut().instret += used;
            if p.itimer_cpu != [None; 2] {
                fire_cpu_itimers(p);
            }
            if !p.timers.is_empty() && crate::syscalls::posix_timer::fire_cpu(p) {
                self.progress += 1;
            }
            progressed |= used > 1;
            match stop {
                StopReason::Ecall(call) => {
                    match syscalls::dispatch(self, p, call.nr, call.args) {
                        Some(ret) => {
                            progressed = true;
                            if p.exit.is_none() && !p.thread().exiting {
                                self.machine.set_x(p.hart(), 10, ret);
                            }
                        }
                        None => {
                            // Parked: back to the ecall, to run it again when woken (a
                            // vfork parent's clone has already returned).
                            if p.thread()
                                .block
                                .is_some_and(|b| !matches!(b.wake, Wake::VforkDone(_)))
                            {
                                let pc = self.machine.pc(hart);
                                self.machine.set_pc(hart, pc - 4);
                            }
                        }
                    }
                }
                // The slice's end (the loop's top returns), or a CPU timer's expiry (its
                // signal is delivered there and the slice goes on).
                StopReason::BudgetExhausted => {}
                StopReason::Breakpoint => {
                    let pc = self.machine.pc(hart);
                    self.fault(
                        p,
                        signal::SIGTRAP,
                        signal::TRAP_BRKPT,
                        pc,
                        "Trace/breakpoint trap",
                    );
                    progressed = true;
                }
                StopReason::IllegalInstruction(bits) => {
                    let pc = self.machine.pc(hart);
                    let why = format!("Illegal instruction (0x{bits:08x})");
                    self.fault(p, signal::SIGILL, signal::ILL_ILLOPC, pc, &why);
                    progressed = true;
                }
                StopReason::Fault(f) if f.cause == FaultCause::NotFilled => {
                    // A file page not read yet (a major fault): read it and run the
                    // access again. No memory for it is the OOM path, as for any page;
                    // a page that cannot be read is SIGBUS, as on Linux.
                    match self.page_cache_fault(p.space, f.addr) {
                        Ok(()) => {}
                        Err(Errno::ENOMEM) => {
                            self.oom(p);
                        }
                        Err(e) => {
                            let why = format!(
                                "Bus error (file page at 0x{:x} could not be read: {e:?})",
                                f.addr
                            );
                            self.fault(p, signal::SIGBUS, signal::BUS_ADRERR, f.addr, &why);
                        }
                    }
                    progressed = true;
                }
                StopReason::Fault(f) if f.cause == FaultCause::OutOfMemory => {
                    // No frame for a page this process touched (the memory limit, or the
                    // host's memory): Linux's OOM killer picks the largest process
                    // (limits.rs). Unless that is this one, the access is retried when it
                    // runs again, once the victim's memory is back.
                    self.oom(p);
                    progressed = true;
                }
                StopReason::Fault(f) => {
                    let (code, kind) = match f.cause {
                        FaultCause::Unmapped => (signal::SEGV_MAPERR, "unmapped"),
                        FaultCause::Protection
                        | FaultCause::OutOfMemory
                        | FaultCause::NotFilled => (signal::SEGV_ACCERR, "protected"),
                    };
                    let access = match f.access {
                        Access::Load => "load",
                        Access::Store => "store",
                        Access::Fetch => "fetch",
                    };
                    let why = format!(
                        "Segmentation fault ({access} at {kind} address 0x{:x})",
                        f.addr
                    );
                    self.fault(p, signal::SIGSEGV, code, f.addr, &why);
                    progressed = true;
                }
            }
        }
    }

    /// A synchronous fault: to the guest's handler if it has one it does not block,
    /// otherwise the process dies (force_sig_fault).
    fn fault(&mut self, p: &mut Process, sig: u8, code: i32, addr: u64, why: &str) {
        let act = p.sigactions[sig as usize - 1];
        let blocked = p.thread().sigmask & bit(sig) != 0;
        if act.handler > signal::SIG_IGN && !blocked {
            p.thread_mut().post(SigInfo {
                signo: sig,
                code,
                addr,
                ..SigInfo::default()
            });
            return;
        }
        let pc = self.machine.pc(p.hart());
        let exe = String::from_utf8_lossy(&p.exe).into_owned();
        p.death_reason = Some(format!("{exe}: {why} at pc 0x{pc:x}"));
        p.exit = Some(ExitStatus::Signal(sig));
    }

    /// Whether a parked thread should run again.
    fn ready(&mut self, p: &Process, b: &Block) -> bool {
        if let Some(d) = b.deadline
            && self.host.monotonic_ns() >= d
        {
            return true;
        }
        match b.wake {
            Wake::Event | Wake::Stdin => self.progress > b.progress,
            Wake::Futex => p.thread().futex_woken,
            Wake::Signal => false,
            Wake::SigWait(set) => (p.thread().pending | p.pending) & set != 0,
            Wake::VforkDone(child) => self
                .procs
                .get(&child)
                .is_none_or(|c| c.vfork_parent.is_none()),
        }
    }

    /// Every thread is parked: sleep in the host until stdin or a timer can wake one.
    /// Returns false if nothing ever can (a deadlock).
    fn idle(&mut self) -> bool {
        let mut deadline: Option<u64> = None;
        let mut stdin = false;
        let mut earliest = |d: Option<u64>| {
            if let Some(d) = d {
                deadline = Some(deadline.map_or(d, |x: u64| x.min(d)));
            }
        };
        for p in self.procs.values() {
            if p.is_zombie() {
                continue;
            }
            earliest(p.itimer_real.map(|(expiry, _)| expiry));
            earliest(crate::syscalls::posix_timer::next_expiry(p));
            if matches!(p.state, State::Stopped { .. }) {
                continue;
            }
            for t in &p.threads {
                if let Some(b) = t.block {
                    earliest(b.deadline);
                    stdin |= b.wake == Wake::Stdin;
                }
            }
        }
        let interest = std::mem::take(&mut self.net_interest);
        // The writable layer is saved once things have settled (persist.rs).
        earliest(self.save_layer_when_idle());
        // A console reads the host's input even when no one waits for it: Ctrl-C must
        // reach a guest that sleeps.
        stdin |= self.console_wants_input();
        let mut pollables = Vec::new();
        if self.net_queued {
            // Queued TCP bytes move on (and may unblock a sender) as the stream drains.
            self.net_queued = self.net.pump();
            if self.net_queued {
                pollables.extend(self.net.subscribe_queued());
            }
        }
        // A backend that takes in its news during any call (the browser's relay) may have
        // made a waited-for socket ready in a call that woke no one (one made for another
        // socket, or the kernel's own): its pollable will not fire for news already taken
        // in, so the waiters go on now instead (`Net::activity`).
        let activity = self.net.activity();
        if activity != self.net_activity && pollables.is_empty() {
            self.net_activity = activity;
            self.net_interest = interest;
            self.progress += 1;
            return true;
        }
        // Sockets parked threads wait on: their pollables, or (a backend without any) a
        // short timer to look again.
        for (&h, &(read, write)) in &interest {
            let p = self.net.subscribe(h, read, write);
            if p.is_empty() {
                earliest(Some(self.host.monotonic_ns() + NET_POLL_NS));
            }
            pollables.extend(p);
        }
        if deadline.is_none() && !stdin && pollables.is_empty() {
            return false;
        }
        // Wake for FRISCY_TIMEOUT too (a deadlock is still reported at once).
        if let Some(t) = self.timeout_deadline() {
            deadline = Some(deadline.map_or(t, |d| d.min(t)));
        }
        self.host.wait(stdin, deadline, pollables);
        self.progress += 1;
        true
    }

    /// The run is over: bytes still queued on TCP sockets (closed ones included) go out
    /// before the host exits, as Linux sends them after a process is gone; at most
    /// FLUSH_NS, for a peer that stopped reading.
    fn flush_net(&mut self) {
        self.reap_sockets();
        let limit = self.host.monotonic_ns().saturating_add(FLUSH_NS);
        while self.net.pump() {
            let pollables = self.net.subscribe_queued();
            if pollables.is_empty() || self.host.monotonic_ns() >= limit {
                break;
            }
            self.host.wait(false, Some(limit), pollables);
        }
        self.net_queued = false;
    }

    /// Park the current thread in its syscall (see the module comment). Returns the
    /// ERESTARTSYS that the handler passes up.
    pub fn park(
        &mut self,
        p: &mut Process,
        wake: Wake,
        deadline: Option<u64>,
        restartable: bool,
    ) -> SysResult {
        let progress = self.progress;
        let t = p.thread_mut();
        t.restart.get_or_insert_with(Restart::default).deadline = deadline;
        t.block = Some(Block {
            wake,
            deadline,
            progress,
            restartable,
        });
        Err(Errno::ERESTARTSYS)
    }

    /// The absolute deadline of a blocking call with a relative timeout, computed the first
    /// time the call runs and kept across its retries.
    pub fn deadline_in(&mut self, p: &mut Process, timeout_ns: Option<u64>) -> Option<u64> {
        if let Some(r) = p.thread().restart {
            return r.deadline;
        }
        let d = timeout_ns.map(|ns| self.host.monotonic_ns().saturating_add(ns));
        p.thread_mut().restart = Some(Restart {
            deadline: d,
            ..Restart::default()
        });
        d
    }

    /// Whether the current call's deadline has passed.
    pub fn expired(&mut self, p: &Process) -> bool {
        match p.thread().restart.and_then(|r| r.deadline) {
            Some(d) => self.host.monotonic_ns() >= d,
            None => false,
        }
    }

    /// Deliver one pending signal to the current thread, if it has one it does not block.
    /// Returns whether it did something.
    fn deliver_signal(&mut self, p: &mut Process) -> bool {
        let t = p.thread();
        if matches!(
            t.block,
            Some(Block {
                wake: Wake::VforkDone(_),
                ..
            })
        ) {
            return false;
        }
        let mut shared = p.pending;
        for &(sig, tid) in &p.aimed {
            if tid != t.tid
                && p.threads
                    .iter()
                    .any(|o| o.tid == tid && !o.exiting && o.sigmask & bit(sig) == 0)
            {
                shared &= !bit(sig);
            }
        }
        let deliverable = (t.pending | shared) & !(t.sigmask & !signal::UNBLOCKABLE);
        if deliverable == 0 {
            return false;
        }
        let sig = deliverable.trailing_zeros() as u8 + 1;
        let info = if t.pending & bit(sig) != 0 {
            let own = p.thread_mut().take(sig);
            own.unwrap_or(p.siginfo[sig as usize - 1])
        } else {
            p.pending &= !bit(sig);
            p.aimed.retain(|(s, _)| *s != sig);
            p.siginfo[sig as usize - 1]
        };
        let act = p.sigactions[sig as usize - 1];
        match act.handler {
            signal::SIG_IGN => {}
            signal::SIG_DFL => match signal::default_action(sig) {
                DefaultAction::Ignore | DefaultAction::Continue => {}
                DefaultAction::Stop => {
                    p.state = State::Stopped {
                        sig,
                        reported: false,
                    };
                    self.progress += 1;
                    self.notify_parent(p, signal::CLD_STOPPED, sig as i32);
                }
                DefaultAction::Terminate | DefaultAction::Core => {
                    p.exit.get_or_insert(ExitStatus::Signal(sig));
                }
            },
            _ => self.setup_frame(p, sig, info, act),
        }
        true
    }

    /// Enter a guest signal handler: end the syscall the thread is parked in, push the
    /// frame, and point the hart at the handler.
    fn setup_frame(&mut self, p: &mut Process, sig: u8, info: SigInfo, act: signal::SigAction) {
        let hart = p.hart();
        if let Some(b) = p.thread_mut().block.take() {
            let restart = p.thread_mut().restart.take();
            if restart.is_some_and(|r| r.futex_queued) {
                self.futex_dequeue(p.pid, p.tid());
            }
            self.fifos.abandon(p.tid());
            let woken = std::mem::take(&mut p.thread_mut().futex_woken);
            let pc = self.machine.pc(hart);
            let done = match restart {
                Some(Restart {
                    msgs: Some(m),
                    done,
                    ..
                }) => m + (done > 0) as u64,
                r => r.map_or(0, |r| r.done),
            };
            if woken {
                // The FUTEX_WAKE came first: the wait succeeded, and the wake is not lost.
                self.machine.set_x(hart, 10, 0);
                self.machine.set_pc(hart, pc + 4);
            } else if done > 0 {
                // A transfer that had moved some bytes (or messages) returns their count.
                self.machine.set_x(hart, 10, done);
                self.machine.set_pc(hart, pc + 4);
            } else if b.restartable && act.flags & signal::SA_RESTART != 0 {
                // pc is on the ecall: the call runs again after the handler.
            } else {
                self.machine.set_x(hart, 10, Errno::EINTR.to_ret());
                self.machine.set_pc(hart, pc + 4);
            }
        }
        let mut regs = self.machine.registers(hart);
        let t = p.thread_mut();
        let saved_mask = t.saved_sigmask.take().unwrap_or(t.sigmask);
        let (ss_sp, ss_size, ss_flags) = t.altstack;
        let sp = regs.x[2];
        let on_altstack = ss_flags & signal::SS_DISABLE == 0 && sp > ss_sp && sp <= ss_sp + ss_size;
        let mut top = sp;
        if act.flags & signal::SA_ONSTACK != 0 && ss_flags & signal::SS_DISABLE == 0 && !on_altstack
        {
            top = ss_sp + ss_size;
        }
        let frame_addr = (top - signal::FRAME_SIZE as u64) & !15;
        let stack_flags = if on_altstack {
            signal::SS_ONSTACK
        } else {
            ss_flags
        };
        let frame = signal::build_frame(&info, &regs, saved_mask, (ss_sp, ss_size, stack_flags));
        if self
            .guest(p.space, |m| m.write(p.space, frame_addr, &frame))
            .is_err()
        {
            let exe = String::from_utf8_lossy(&p.exe).into_owned();
            p.death_reason = Some(format!(
                "{exe}: Segmentation fault (no room for the frame of signal {sig} at 0x{frame_addr:x})"
            ));
            p.exit = Some(ExitStatus::Signal(signal::SIGSEGV));
            return;
        }
        regs.pc = act.handler;
        regs.x[1] = p.mm.sigreturn;
        regs.x[2] = frame_addr;
        regs.x[10] = sig as u64;
        regs.x[11] = frame_addr;
        regs.x[12] = frame_addr + signal::FRAME_UCONTEXT;
        self.machine.set_registers(hart, &regs);
        let t = p.thread_mut();
        let mut mask = t.sigmask | act.mask;
        if act.flags & signal::SA_NODEFER == 0 {
            mask |= bit(sig);
        }
        t.sigmask = mask & !signal::UNBLOCKABLE;
        if act.flags & signal::SA_RESETHAND != 0 {
            p.sigactions[sig as usize - 1] = signal::SigAction::default();
        }
    }

    /// Tell `child`'s parent that it stopped, continued or exited: SIGCHLD (or the
    /// clone exit signal) with CLD_* in si_code, and wake its wait4.
    fn notify_parent(&mut self, child: &Process, code: i32, status: i32) {
        self.progress += 1;
        let sig = if code == signal::CLD_EXITED
            || code == signal::CLD_KILLED
            || code == signal::CLD_DUMPED
        {
            child.exit_signal
        } else {
            signal::SIGCHLD
        };
        let Some(parent) = self.procs.get_mut(&child.ppid) else {
            return;
        };
        if sig == 0 {
            return;
        }
        let act = parent.sigactions[sig as usize - 1];
        if sig == signal::SIGCHLD
            && (code == signal::CLD_STOPPED || code == signal::CLD_CONTINUED)
            && act.flags & signal::SA_NOCLDSTOP != 0
        {
            return;
        }
        let info = SigInfo {
            signo: sig,
            code,
            pid: child.pid,
            uid: child.creds.uid.real,
            status,
            ..SigInfo::default()
        };
        post_signal(parent, sig, info);
    }

    /// The end of a process whose `exit` is set: its threads and memory go, its
    /// descriptors close, it becomes a zombie for its parent's wait(2). Returns true if it
    /// was reaped at once (its parent ignores SIGCHLD).
    fn terminate(&mut self, p: &mut Process) -> bool {
        let status = p.exit.expect("terminate a process that has not exited");
        for t in std::mem::take(&mut p.threads) {
            self.futex_dequeue(p.pid, t.tid);
            self.fifos.abandon(t.tid);
            self.machine.hart_drop(t.hart);
        }
        self.locks.close_all(p.pid, std::mem::take(&mut p.fds));
        self.sem_exit(p.pid);
        self.tty_exit(p);
        if let Some(parent) = p.vfork_parent.take() {
            self.release_vfork(p, parent);
        } else {
            self.shm_drop_space(p.space);
            self.machine.space_drop(p.space);
        }
        p.state = State::Zombie(status);
        p.itimer_real = None;
        p.itimer_cpu = [None; 2];
        p.timers.clear();
        // Orphans go to the nearest living ancestor that asked to be a child subreaper
        // (PR_SET_CHILD_SUBREAPER), else to process 1 (find_new_reaper).
        let reaper = {
            let mut at = p.ppid;
            let mut seen = 0;
            loop {
                match self.procs.get(&at) {
                    Some(a) if at != 1 && seen < 4096 => {
                        if a.child_subreaper && !a.is_zombie() && a.exit.is_none() {
                            break at;
                        }
                        at = a.ppid;
                        seen += 1;
                    }
                    _ => break 1,
                }
            }
        };
        let mut orphans = Vec::new();
        let mut zombies = Vec::new();
        for c in self.procs.values_mut() {
            if c.ppid == p.pid {
                c.ppid = reaper;
                if c.pdeath_sig != 0 && !c.is_zombie() {
                    orphans.push((c.pid, c.pdeath_sig));
                }
                if let State::Zombie(st) = c.state {
                    zombies.push((c.pid, st));
                }
            }
        }
        // An orphan that had already exited is announced to its new parent
        // (reparent_leader), so that it is waited for.
        for (pid, st) in zombies {
            if let Some(c) = self.procs.remove(&pid) {
                let (code, status) = exit_code(st);
                self.notify_parent(&c, code, status);
                self.procs.insert(pid, c);
            }
        }
        // PR_SET_PDEATHSIG: the children that asked hear of their parent's exit.
        for (pid, sig) in orphans {
            let info = SigInfo {
                signo: sig,
                code: signal::SI_USER,
                pid: p.pid,
                ..SigInfo::default()
            };
            self.signal_process(p, pid, sig, info);
        }
        let (code, st) = exit_code(status);
        self.notify_parent(p, code, st);
        // A parent that ignores SIGCHLD (or set SA_NOCLDWAIT) leaves no zombies.
        if let Some(parent) = self.procs.get_mut(&p.ppid) {
            let act = parent.sigactions[signal::SIGCHLD as usize - 1];
            if act.handler == signal::SIG_IGN || act.flags & signal::SA_NOCLDWAIT != 0 {
                parent.children_instret += p.instret + p.children_instret;
                return true;
            }
        }
        false
    }

    /// A vfork child is done with its parent's address space (it exec'd or exited): the
    /// parent gets its memory map back and resumes.
    pub fn release_vfork(&mut self, child: &mut Process, parent: Pid) {
        if let Some(par) = self.procs.get_mut(&parent) {
            par.mm = child.mm.clone();
        }
        child.vfork_parent = None;
        self.progress += 1;
    }

    /// End one thread of a process (exit(2)); the last one ends the process.
    fn remove_thread(&mut self, p: &mut Process, i: usize) {
        let t = p.threads.remove(i);
        if t.tid == p.creds_of && !p.threads.is_empty() {
            // Its credentials go with it: the process's become another thread's.
            p.select(0);
        }
        self.futex_dequeue(p.pid, t.tid);
        self.machine.hart_drop(t.hart);
        if t.clear_child_tid != 0 {
            // CLONE_CHILD_CLEARTID: how pthread_join learns the thread is gone.
            let _ = self.guest(p.space, |m| {
                m.write(p.space, t.clear_child_tid, &0u32.to_le_bytes())
            });
            let key = self.futex_key(p.space, t.clear_child_tid, false);
            self.futex_wake(p, key, 1, u32::MAX);
        }
        if p.threads.is_empty() {
            p.exit.get_or_insert(ExitStatus::Code(0));
        }
        self.progress += 1;
    }

    /// Kill every process (process 1 exited, or a deadlock).
    fn kill_everything(&mut self) {
        let procs = std::mem::take(&mut self.procs);
        for (_, mut p) in procs {
            if p.is_zombie() {
                continue;
            }
            for t in std::mem::take(&mut p.threads) {
                self.machine.hart_drop(t.hart);
            }
            if p.vfork_parent.is_none() {
                self.machine.space_drop(p.space);
            }
        }
        self.futexes.clear();
    }

    /// Remove a thread from every futex queue.
    pub fn futex_dequeue(&mut self, pid: Pid, tid: Pid) {
        self.futexes.retain(|_, q| {
            q.retain(|w| !(w.pid == pid && w.tid == tid));
            !q.is_empty()
        });
    }

    /// FUTEX_WAKE: wake up to `n` waiters on `key` whose bitset intersects `bitset`.
    pub fn futex_wake(&mut self, cur: &mut Process, key: FutexKey, n: usize, bitset: u32) -> usize {
        let Some(queue) = self.futexes.get_mut(&key) else {
            return 0;
        };
        let mut woken: Vec<FutexWaiter> = Vec::new();
        queue.retain(|w| {
            if woken.len() < n && w.bitset & bitset != 0 {
                woken.push(*w);
                false
            } else {
                true
            }
        });
        if queue.is_empty() {
            self.futexes.remove(&key);
        }
        // Wakeup preemption: the waker's slice ends here, so the thread it woke runs
        // before the waker goes on for a whole slice, as Linux's scheduler runs a woken
        // thread at once (another CPU, or preempting the waker on this one). Without it a
        // thread that wakes another and loops (Go's stop-the-world beside a locked
        // thread's handoff) can keep it from ever getting a turn.
        if !woken.is_empty() {
            self.yield_now = true;
        }
        for w in &woken {
            let proc = if w.pid == cur.pid {
                Some(&mut *cur)
            } else {
                self.procs.get_mut(&w.pid)
            };
            if let Some(t) = proc.and_then(|p| p.threads.iter_mut().find(|t| t.tid == w.tid)) {
                t.futex_woken = true;
                if let Some(r) = t.restart.as_mut() {
                    r.futex_queued = false;
                }
            }
        }
        woken.len()
    }

    /// Send a signal to the process `pid` (kill(2)); `cur` is the caller, which is not in
    /// `procs` while it runs.
    pub fn signal_process(&mut self, cur: &mut Process, pid: Pid, sig: u8, info: SigInfo) -> bool {
        let target = if pid == cur.pid {
            Some(&mut *cur)
        } else {
            self.procs.get_mut(&pid)
        };
        let Some(target) = target else {
            return false;
        };
        if target.is_zombie() {
            // Still exists for kill(2)'s purposes (it succeeds), but nothing happens.
            return true;
        }
        let continued = post_signal(target, sig, info);
        self.progress += 1;
        if continued {
            let (ppid, child_pid) = (target.ppid, target.pid);
            let info = SigInfo {
                signo: signal::SIGCHLD,
                code: signal::CLD_CONTINUED,
                pid: child_pid,
                uid: target.creds.uid.real,
                status: signal::SIGCONT as i32,
                ..SigInfo::default()
            };
            if ppid == cur.pid {
                post_signal(cur, signal::SIGCHLD, info);
            } else if let Some(parent) = self.procs.get_mut(&ppid) {
                post_signal(parent, signal::SIGCHLD, info);
            }
        }
        true
    }
}

/// Make a signal pending for a process, applying what sending it does at once (SIGKILL,
/// SIGCONT, discarding ignored signals). Returns true if it continued a stopped process.
pub fn post_signal(p: &mut Process, sig: u8, info: SigInfo) -> bool {
    if p.is_zombie() || sig == 0 {
        return false;
    }
    let stop_signals: SigSet =
        bit(signal::SIGSTOP) | bit(signal::SIGTSTP) | bit(signal::SIGTTIN) | bit(signal::SIGTTOU);
    let mut continued = false;
    if sig == signal::SIGKILL || sig == signal::SIGCONT {
        if let State::Stopped { .. } = p.state {
            p.state = State::Running;
            continued = sig == signal::SIGCONT;
            p.continued = continued;
        }
        p.pending &= !stop_signals;
        for t in &mut p.threads {
            t.pending &= !stop_signals;
        }
    }
    if sig == signal::SIGKILL {
        p.exit.get_or_insert(ExitStatus::Signal(signal::SIGKILL));
        return false;
    }
    if stop_signals & bit(sig) != 0 {
        p.pending &= !bit(signal::SIGCONT);
    }
    let act = p.sigactions[sig as usize - 1];
    let ignored = act.handler == signal::SIG_IGN
        || (act.handler == signal::SIG_DFL
            && matches!(
                signal::default_action(sig),
                DefaultAction::Ignore | DefaultAction::Continue
            ));
    let blocked_everywhere = p.threads.iter().all(|t| t.sigmask & bit(sig) != 0);
    if ignored && !blocked_everywhere {
        return continued;
    }
    p.pending |= bit(sig);
    p.siginfo[sig as usize - 1] = info;
    continued
}

/// Instructions the current thread of `p` can retire before a CPU-time timer
/// (ITIMER_VIRTUAL, ITIMER_PROF, or a POSIX timer on its process's or its own CPU clock)
/// expires; `None` when none is armed.
fn cpu_timers_due_in(p: &Process) -> Option<u64> {
    if p.itimer_cpu == [None; 2] && p.timers.is_empty() {
        return None;
    }
    let now = p.cpu_ns();
    let itimers = p
        .itimer_cpu
        .iter()
        .flatten()
        .map(|&(expiry, _)| expiry.saturating_sub(now));
    let ns = itimers
        .chain(crate::syscalls::posix_timer::cpu_ns_left(p))
        .min()?;
    Some(crate::process::instret_for_ns(ns))
}

/// ITIMER_VIRTUAL and ITIMER_PROF: SIGVTALRM and SIGPROF once the process's CPU time
/// reaches their expiry (checked after each run of its threads), then re-armed with the
/// interval (one signal for intervals missed meanwhile, as Linux's pending bit gives).
/// The signal is the process's, aimed at the thread that was running, as Linux's check at
/// the tick sends it to `current` (`Process::aimed`).
fn fire_cpu_itimers(p: &mut Process) {
    let now = p.cpu_ns();
    for (i, sig) in [(0, signal::SIGVTALRM), (1, signal::SIGPROF)] {
        let Some((expiry, interval)) = p.itimer_cpu[i] else {
            continue;
        };
        if now < expiry {
            continue;
        }
        p.itimer_cpu[i] = (interval > 0).then(|| {
            let next = expiry.saturating_add(interval);
            (
                if next > now {
                    next
                } else {
                    now.saturating_add(interval)
                },
                interval,
            )
        });
        let info = SigInfo {
            signo: sig,
            code: signal::SI_KERNEL,
            ..SigInfo::default()
        };
        post_signal(p, sig, info);
        let tid = p.thread().tid;
        if p.pending & bit(sig) != 0 && p.thread().sigmask & bit(sig) == 0 {
            p.aimed.retain(|(s, _)| *s != sig);
            p.aimed.push((sig, tid));
        }
    }
}

/// SIGCHLD's si_code and si_status for a process that ended with `status`.
fn exit_code(status: ExitStatus) -> (i32, i32) {
    match status {
        ExitStatus::Code(c) => (signal::CLD_EXITED, c as i32),
        ExitStatus::Signal(s) if signal::default_action(s) == DefaultAction::Core => {
            (signal::CLD_DUMPED, s as i32)
        }
        ExitStatus::Signal(s) => (signal::CLD_KILLED, s as i32),
    }
}
