//! POSIX per-process timers: timer_create, timer_settime, timer_gettime,
//! timer_getoverrun, timer_delete (kernel/time/posix-timers.c).
//!
//! A timer notifies by a signal to the process (SIGEV_SIGNAL), to one of its threads
//! (SIGEV_THREAD_ID, which glibc's SIGEV_THREAD timers use underneath) or not at all
//! (SIGEV_NONE, polled with timer_gettime). Expiry times are kept on the host's monotonic
//! clock (CLOCK_REALTIME ones converted when set, as timerfd does: friscy's wall clock
//! cannot be set), and the scheduler fires due timers as it does ITIMER_REAL. While a
//! timer's signal is still pending, further expirations are counted as its overrun
//! instead of queued.
//!
//! Timers on a CPU-time clock (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID, and the
//! ids clock_getcpuclockid/pthread_getcpuclockid make for the caller's own process or
//! threads) keep their expiry in that clock's nanoseconds and are fired by the scheduler
//! after each run of a thread (`fire_cpu`), as Linux checks them at the tick: Go's
//! profiler gives every thread one (SIGEV_THREAD_ID, SIGPROF).

use friscy_abi::Errno;

use super::timerfd::{expirations, first_expiry_at, read_itimerspec, write_itimerspec};
use super::{Args, SysResult};
use crate::Kernel;
use crate::process::{Pid, Process, instret_ns};
use crate::signal::{self, SigInfo, bit};

const CLOCK_REALTIME: u64 = 0;
const CLOCK_MONOTONIC: u64 = 1;
const CLOCK_PROCESS_CPUTIME_ID: u64 = 2;
const CLOCK_THREAD_CPUTIME_ID: u64 = 3;
const CLOCK_BOOTTIME: u64 = 7;
const CLOCK_REALTIME_ALARM: u64 = 8;
const CLOCK_BOOTTIME_ALARM: u64 = 9;
const SIGEV_SIGNAL: u32 = 0;
const SIGEV_NONE: u32 = 1;
const SIGEV_THREAD_ID: u32 = 4;
const TIMER_ABSTIME: u64 = 1;
/// si_code of a timer's signal.
pub const SI_TIMER: i32 = -2;
/// DELAYTIMER_MAX: overrun counts saturate here.
const DELAYTIMER_MAX: u32 = i32::MAX as u32;

/// The clock a timer counts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimerClock {
    Monotonic,
    /// CLOCK_REALTIME: absolute times are wall-clock times.
    Realtime,
    /// The process's CPU time.
    ProcessCpu,
    /// One thread's CPU time.
    ThreadCpu(Pid),
}

#[derive(Clone, Debug)]
pub struct PosixTimer {
    clock: TimerClock,
    notify: u32,
    signo: u8,
    /// The thread SIGEV_THREAD_ID names.
    tid: Pid,
    /// sigev_value, handed back in the signal's si_value.
    value: u64,
    /// The next expiry, in host monotonic nanoseconds (a CPU clock's own nanoseconds for
    /// one on a CPU clock); `None` when disarmed.
    next: Option<u64>,
    interval: u64,
    /// Whether its last signal may still be pending (not taken yet).
    posted: bool,
    /// Expirations counted for that signal: the ones it stands for beyond the first,
    /// and those while it was pending.
    overrun: u32,
    /// The overrun of the last signal taken (timer_getoverrun).
    last_overrun: u32,
}

impl PosixTimer {
    fn on_cpu_clock(&self) -> bool {
        matches!(
            self.clock,
            TimerClock::ProcessCpu | TimerClock::ThreadCpu(_)
        )
    }

    /// Whether the timer's signal is pending for its target in `p`.
    fn signal_pending(&self, p: &Process) -> bool {
        let pending = if self.notify == SIGEV_THREAD_ID {
            p.threads
                .iter()
                .find(|th| th.tid == self.tid)
                .map_or(0, |th| th.pending)
        } else {
            p.pending
        };
        pending & bit(self.signo) != 0
    }
}

/// Once a timer's signal has been taken (delivered, or read by sigwaitinfo or a
/// signalfd), its overrun becomes timer_getoverrun's, as Linux settles it at dequeue.
fn settle(p: &mut Process, id: usize) {
    let Some(t) = &p.timers[id] else { return };
    if t.posted && !t.signal_pending(p) {
        let t = p.timers[id].as_mut().expect("checked");
        t.last_overrun = t.overrun;
        t.overrun = 0;
        t.posted = false;
    }
}

/// A timer id argument: timer_t is an int, so the register's upper bits are ignored;
/// EINVAL for an id no timer has.
fn timer_id(p: &Process, arg: u64) -> Result<usize, Errno> {
    let id = usize::try_from(arg as i32).map_err(|_| Errno::EINVAL)?;
    match p.timers.get(id) {
        Some(Some(_)) => Ok(id),
        _ => Err(Errno::EINVAL),
    }
}

fn timer_mut(p: &mut Process, arg: u64) -> Result<&mut PosixTimer, Errno> {
    let id = timer_id(p, arg)?;
    Ok(p.timers[id].as_mut().expect("timer_id checked it"))
}

/// A clock id given to timer_create: the CPU-time ones are the caller's process, the
/// calling thread, or (`time::cpu_clock_id`) the caller's process or one of its threads
/// by id.
fn timer_clock(k: &mut Kernel, p: &Process, clock: u64) -> Result<TimerClock, Errno> {
    Ok(match clock {
        CLOCK_REALTIME => TimerClock::Realtime,
        CLOCK_MONOTONIC | CLOCK_BOOTTIME => TimerClock::Monotonic,
        // Alarm clocks wake a suspended machine: CAP_WAKE_ALARM, which docker drops.
        CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM => return Err(Errno::EPERM),
        CLOCK_PROCESS_CPUTIME_ID => TimerClock::ProcessCpu,
        CLOCK_THREAD_CPUTIME_ID => TimerClock::ThreadCpu(p.thread().tid),
        _ => {
            let (pid, thread) = super::time::cpu_clock_id(clock).ok_or(Errno::EINVAL)?;
            if thread {
                let tid = if pid == 0 { p.thread().tid } else { pid };
                if !p.threads.iter().any(|t| t.tid == tid) {
                    return Err(Errno::EINVAL);
                }
                TimerClock::ThreadCpu(tid)
            } else if pid == 0 || pid == p.pid {
                TimerClock::ProcessCpu
            } else {
                // Linux lets a timer count another process's CPU time; friscy keeps
                // timers per process and does not.
                if k.trace {
                    k.report("timer_create: another process's CPU clock is not supported");
                }
                return Err(Errno::EINVAL);
            }
        }
    })
}

/// The current time of a CPU-time clock; `None` for the other clocks, and for a thread
/// that has exited (its clock stopped).
fn cpu_now(p: &Process, clock: TimerClock) -> Option<u64> {
    match clock {
        TimerClock::ProcessCpu => Some(p.cpu_ns()),
        TimerClock::ThreadCpu(tid) => p
            .threads
            .iter()
            .find(|t| t.tid == tid)
            .map(|t| instret_ns(t.instret)),
        TimerClock::Monotonic | TimerClock::Realtime => None,
    }
}

/// The time on a timer's clock: its CPU clock, or the host's monotonic clock.
fn timer_now(k: &Kernel, p: &Process, clock: TimerClock) -> u64 {
    match clock {
        TimerClock::Monotonic | TimerClock::Realtime => k.host.monotonic_ns(),
        // A thread that has exited: its clock stopped (the timer never fires).
        TimerClock::ProcessCpu | TimerClock::ThreadCpu(_) => cpu_now(p, clock).unwrap_or(0),
    }
}

pub fn sys_timer_create(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (clock, sevp, idp) = (a[0], a[1], a[2]);
    let clock = timer_clock(k, p, clock)?;
    let id = p
        .timers
        .iter()
        .position(Option::is_none)
        .unwrap_or(p.timers.len());
    let mut t = PosixTimer {
        clock,
        notify: SIGEV_SIGNAL,
        signo: signal::SIGALRM,
        tid: p.pid,
        value: id as u64,
        next: None,
        interval: 0,
        posted: false,
        overrun: 0,
        last_overrun: 0,
    };
    if sevp != 0 {
        // struct sigevent: sigev_value, sigev_signo, sigev_notify, then _tid.
        let b = k.read_user(p, sevp, 20)?;
        let word = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        t.value = u64::from_le_bytes(b[0..8].try_into().unwrap());
        let (signo, notify, tid) = (word(8), word(12), word(16) as Pid);
        match notify {
            SIGEV_NONE => {}
            SIGEV_SIGNAL | SIGEV_THREAD_ID => {
                if signo == 0 || signo > signal::NSIG as u32 {
                    return Err(Errno::EINVAL);
                }
                t.signo = signo as u8;
                if notify == SIGEV_THREAD_ID {
                    // good_sigevent(): a thread of this process.
                    if !p.threads.iter().any(|th| th.tid == tid) {
                        return Err(Errno::EINVAL);
                    }
                    t.tid = tid;
                }
            }
            _ => return Err(Errno::EINVAL),
        }
        t.notify = notify;
    }
    k.write_user(p, idp, &(id as i32).to_le_bytes())?;
    if id == p.timers.len() {
        p.timers.push(Some(t));
    } else {
        p.timers[id] = Some(t);
    }
    Ok(0)
}

/// (it_value, it_interval): time to the next expiry and the period.
fn remaining(t: &PosixTimer, now: u64) -> (u64, u64) {
    // A due timer that has not fired yet shows 1 ns left, as Linux shows a timer whose
    // expiry is being handled.
    (
        t.next.map_or(0, |n| n.saturating_sub(now).max(1)),
        t.interval,
    )
}

pub fn sys_timer_settime(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (id, flags, new, old) = (a[0], a[1], a[2], a[3]);
    let (interval, value) = read_itimerspec(k, p, new)?;
    let clock = timer_mut(p, id)?.clock;
    let now = timer_now(k, p, clock);
    let realtime = clock == TimerClock::Realtime;
    let next = first_expiry_at(k, value, flags & TIMER_ABSTIME != 0, realtime, now);
    let t = timer_mut(p, id)?;
    let previous = remaining(t, now);
    t.interval = interval;
    t.overrun = 0;
    t.next = next;
    if old != 0 {
        write_itimerspec(k, p, old, previous)?;
    }
    Ok(0)
}

pub fn sys_timer_gettime(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let clock = timer_mut(p, a[0])?.clock;
    let now = timer_now(k, p, clock);
    let cur = remaining(timer_mut(p, a[0])?, now);
    write_itimerspec(k, p, a[1], cur)?;
    Ok(0)
}

pub fn sys_timer_getoverrun(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let id = timer_id(p, a[0])?;
    settle(p, id);
    Ok(timer_mut(p, a[0])?.last_overrun as u64)
}

pub fn sys_timer_delete(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let id = timer_id(p, a[0])?;
    p.timers[id] = None;
    while p.timers.last().is_some_and(Option::is_none) {
        p.timers.pop();
    }
    Ok(0)
}

/// The earliest armed expiry among `p`'s timers on the monotonic and wall clocks (the
/// scheduler's idle wait wakes for it; CPU clocks do not move while it waits).
pub fn next_expiry(p: &Process) -> Option<u64> {
    p.timers
        .iter()
        .flatten()
        .filter(|t| !t.on_cpu_clock())
        .filter_map(|t| t.next)
        .min()
}

/// Nanoseconds of CPU time the current thread of `p` can use before one of the CPU-time
/// timers it advances (the process's, its own) expires; `None` when none is armed.
pub fn cpu_ns_left(p: &Process) -> Option<u64> {
    let tid = p.thread().tid;
    p.timers
        .iter()
        .flatten()
        .filter(|t| t.clock == TimerClock::ProcessCpu || t.clock == TimerClock::ThreadCpu(tid))
        .filter_map(|t| Some(t.next?.saturating_sub(cpu_now(p, t.clock)?)))
        .min()
}

/// Fires `p`'s timers on CPU-time clocks that are due (after a run of one of its
/// threads). Returns whether any signal was sent.
pub fn fire_cpu(p: &mut Process) -> bool {
    let mut sent = false;
    for id in 0..p.timers.len() {
        let Some(t) = p.timers[id].as_ref() else {
            continue;
        };
        let Some(now) = cpu_now(p, t.clock) else {
            continue;
        };
        let t = p.timers[id].as_mut().expect("looked at above");
        let n = expirations(&mut t.next, t.interval, now);
        sent |= n > 0 && notify(p, id, n);
    }
    sent
}

/// Fires `p`'s timers due at `now`: each sends its signal, or counts an overrun while the
/// previous one is still pending. Returns whether any signal was sent.
pub fn fire(p: &mut Process, now: u64) -> bool {
    let mut sent = false;
    for id in 0..p.timers.len() {
        let Some(t) = p.timers[id].as_mut() else {
            continue;
        };
        if t.on_cpu_clock() {
            continue;
        }
        let n = expirations(&mut t.next, t.interval, now);
        sent |= n > 0 && notify(p, id, n);
    }
    sent
}

/// Timer `id` expired `n` times: its signal, or `n` more overruns while the last one is
/// still pending. Returns whether a signal was sent.
fn notify(p: &mut Process, id: usize, n: u64) -> bool {
    if p.timers[id].as_ref().expect("a live timer").notify == SIGEV_NONE {
        return false;
    }
    settle(p, id);
    let t = p.timers[id].as_mut().expect("a live timer");
    let n = n.min(DELAYTIMER_MAX as u64) as u32;
    if t.posted {
        // Its signal is still pending: count, do not queue again.
        t.overrun = t.overrun.saturating_add(n).min(DELAYTIMER_MAX);
        return false;
    }
    let (sig, tid) = (t.signo, t.tid);
    if t.notify == SIGEV_THREAD_ID && !p.threads.iter().any(|th| th.tid == tid) {
        // The thread it names has exited: Linux sends nothing either.
        return false;
    }
    t.posted = true;
    t.overrun = n - 1;
    let info = SigInfo {
        signo: sig,
        code: SI_TIMER,
        timer: Some((id as i32, (n - 1) as i32, t.value)),
        ..SigInfo::default()
    };
    if t.notify == SIGEV_THREAD_ID {
        let th = p
            .threads
            .iter_mut()
            .find(|th| th.tid == tid)
            .expect("found above");
        th.post(info);
    } else {
        crate::sched::post_signal(p, sig, info);
        if p.pending & bit(sig) == 0 {
            // Ignored, and discarded at once: nothing is pending to count against.
            p.timers[id].as_mut().expect("a live timer").posted = false;
        }
    }
    true
}
