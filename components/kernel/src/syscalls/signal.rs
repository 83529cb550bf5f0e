//! Signal syscalls: dispositions, masks, sending, waiting, returning from handlers, the
//! alternate stack and ITIMER_REAL. Delivery itself is in sched.rs, the frame in signal.rs.

use friscy_abi::Errno;

use super::{Args, SysResult};
use crate::process::{Pid, Wake};
use crate::signal::{self, SigAction, SigInfo, SigSet, bit};
use crate::{Kernel, Process};

/// The kernel's sigset_t is 8 bytes; rt_* calls insist on exactly that size.
fn check_sigsetsize(size: u64) -> Result<(), Errno> {
    if size == 8 {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

fn valid_signal(sig: u64) -> Result<u8, Errno> {
    if (1..=signal::NSIG as u64).contains(&sig) {
        Ok(sig as u8)
    } else {
        Err(Errno::EINVAL)
    }
}

pub fn sys_rt_sigaction(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (sig, act, oldact, size) = (a[0], a[1], a[2], a[3]);
    check_sigsetsize(size)?;
    let sig = valid_signal(sig)?;
    let old = p.sigactions[sig as usize - 1];
    if act != 0 {
        if sig == signal::SIGKILL || sig == signal::SIGSTOP {
            return Err(Errno::EINVAL);
        }
        let bytes = k.read_user(p, act, SigAction::SIZE)?;
        let mut new = SigAction::decode(&bytes);
        new.mask &= !signal::UNBLOCKABLE;
        p.sigactions[sig as usize - 1] = new;
        // Setting a signal to be ignored discards it where it is pending (POSIX).
        let ignored = new.handler == signal::SIG_IGN
            || new.handler == signal::SIG_DFL
                && signal::default_action(sig) == signal::DefaultAction::Ignore;
        if ignored {
            p.pending &= !bit(sig);
            for t in &mut p.threads {
                t.pending &= !bit(sig);
            }
        }
    }
    if oldact != 0 {
        k.write_user(p, oldact, &old.encode())?;
    }
    Ok(0)
}

const SIG_BLOCK: u64 = 0;
const SIG_UNBLOCK: u64 = 1;
const SIG_SETMASK: u64 = 2;

pub fn sys_rt_sigprocmask(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (how, set, oldset, size) = (a[0], a[1], a[2], a[3]);
    check_sigsetsize(size)?;
    let old = p.thread().sigmask;
    if set != 0 {
        let new = k.read_u64(p, set)?;
        let mask = match how {
            SIG_BLOCK => old | new,
            SIG_UNBLOCK => old & !new,
            SIG_SETMASK => new,
            _ => return Err(Errno::EINVAL),
        };
        p.thread_mut().sigmask = mask & !signal::UNBLOCKABLE;
    }
    if oldset != 0 {
        k.write_u64(p, oldset, old)?;
    }
    Ok(0)
}

pub fn sys_rt_sigpending(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    check_sigsetsize(a[1])?;
    let t = p.thread();
    let pending = (t.pending | p.pending) & t.sigmask;
    k.write_u64(p, a[0], pending)?;
    Ok(0)
}

/// Wait for a signal with a temporary mask; always "fails" with EINTR once a handler ran.
pub fn sys_rt_sigsuspend(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    check_sigsetsize(a[1])?;
    if p.thread().saved_sigmask.is_none() {
        let mask = k.read_u64(p, a[0])?;
        let t = p.thread_mut();
        t.saved_sigmask = Some(t.sigmask);
        t.sigmask = mask & !signal::UNBLOCKABLE;
    }
    k.park(p, Wake::Signal, None, false)
}

/// Read a struct timespec as nanoseconds; EINVAL for a malformed one.
pub fn read_timespec_ns(k: &mut Kernel, p: &Process, addr: u64) -> Result<u64, Errno> {
    let sec = k.read_u64(p, addr)? as i64;
    let nsec = k.read_u64(p, addr + 8)? as i64;
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok((sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(nsec as u64))
}

/// Take a pending signal from `set` synchronously (sigwaitinfo, sigtimedwait).
/// Takes the lowest signal of `want` pending for the current thread (its own pending set
/// first, then the process's) off that set, with its siginfo: what rt_sigtimedwait
/// returns and a signalfd reads.
pub(crate) fn take_pending(p: &mut Process, want: SigSet) -> Option<SigInfo> {
    let ready = (p.thread().pending | p.pending) & want;
    if ready == 0 {
        return None;
    }
    let sig = ready.trailing_zeros() as u8 + 1;
    let t = p.thread_mut();
    let si = if t.pending & bit(sig) != 0 {
        t.take(sig).unwrap_or(p.siginfo[sig as usize - 1])
    } else {
        p.pending &= !bit(sig);
        p.aimed.retain(|(s, _)| *s != sig);
        p.siginfo[sig as usize - 1]
    };
    Some(SigInfo { signo: sig, ..si })
}

pub fn sys_rt_sigtimedwait(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (set, info, timeout, size) = (a[0], a[1], a[2], a[3]);
    check_sigsetsize(size)?;
    let want: SigSet = k.read_u64(p, set)? & !signal::UNBLOCKABLE;
    if let Some(si) = take_pending(p, want) {
        if info != 0 {
            k.write_user(p, info, &si.encode())?;
        }
        return Ok(si.signo as u64);
    }
    let timeout_ns = if timeout != 0 {
        Some(read_timespec_ns(k, p, timeout)?)
    } else {
        None
    };
    if timeout_ns == Some(0) || k.expired(p) {
        return Err(Errno::EAGAIN);
    }
    let deadline = k.deadline_in(p, timeout_ns);
    k.park(p, Wake::SigWait(want), deadline, false)
}

pub fn sys_rt_sigreturn(k: &mut Kernel, p: &mut Process, _a: Args) -> SysResult {
    let hart = p.hart();
    let mut regs = k.machine.registers(hart);
    let frame_addr = regs.x[2];
    let Ok(frame) = k.read_user(p, frame_addr, signal::FRAME_SIZE) else {
        let exe = String::from_utf8_lossy(&p.exe).into_owned();
        p.death_reason = Some(format!(
            "{exe}: Segmentation fault (bad signal frame at 0x{frame_addr:x})"
        ));
        p.exit = Some(crate::ExitStatus::Signal(signal::SIGSEGV));
        return Ok(0);
    };
    let mask = signal::read_frame(&frame, &mut regs);
    k.machine.set_registers(hart, &regs);
    p.thread_mut().sigmask = mask & !signal::UNBLOCKABLE;
    // The dispatcher writes the return value to a0: give it the restored a0.
    Ok(regs.x[10])
}

pub fn sys_sigaltstack(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (ss, old) = (a[0], a[1]);
    let (sp, size, flags) = p.thread().altstack;
    let cur_sp = k.machine.x(p.hart(), 2);
    let on_stack = flags & signal::SS_DISABLE == 0 && cur_sp > sp && cur_sp <= sp + size;
    if old != 0 {
        let mut b = [0u8; 24];
        b[0..8].copy_from_slice(&sp.to_le_bytes());
        let f = if on_stack { signal::SS_ONSTACK } else { flags };
        b[8..12].copy_from_slice(&f.to_le_bytes());
        b[16..24].copy_from_slice(&size.to_le_bytes());
        k.write_user(p, old, &b)?;
    }
    if ss != 0 {
        let b = k.read_user(p, ss, 24)?;
        let new_sp = u64::from_le_bytes(b[0..8].try_into().unwrap());
        let new_flags = u32::from_le_bytes(b[8..12].try_into().unwrap());
        let new_size = u64::from_le_bytes(b[16..24].try_into().unwrap());
        if on_stack {
            return Err(Errno::EPERM);
        }
        // SS_AUTODISARM (1 << 31) is accepted and treated as plain SS_ONSTACK use.
        let mode = new_flags & !(1 << 31);
        if mode == signal::SS_DISABLE {
            p.thread_mut().altstack = (0, 0, signal::SS_DISABLE);
        } else if mode == 0 || mode == signal::SS_ONSTACK {
            if new_size < signal::MINSIGSTKSZ {
                return Err(Errno::ENOMEM);
            }
            p.thread_mut().altstack = (new_sp, new_size, 0);
        } else {
            return Err(Errno::EINVAL);
        }
    }
    Ok(0)
}

fn user_info(p: &Process, sig: u8, code: i32) -> SigInfo {
    SigInfo {
        signo: sig,
        code,
        pid: p.pid,
        uid: p.creds.uid.real,
        ..SigInfo::default()
    }
}

/// The siginfo rt_sigqueueinfo and rt_tgsigqueueinfo take from the caller: its si_code
/// and union delivered as given, except that only a process signalling itself may claim
/// a kernel or kill(2) origin (si_code >= 0 or SI_TKILL: EPERM otherwise).
fn queued_info(
    k: &mut Kernel,
    p: &Process,
    sig: u64,
    addr: u64,
    own: bool,
) -> Result<SigInfo, Errno> {
    if sig > signal::NSIG as u64 {
        return Err(Errno::EINVAL);
    }
    let raw = k.read_user(p, addr, 32)?;
    let code = i32::from_le_bytes(raw[8..12].try_into().unwrap());
    if (code >= 0 || code == signal::SI_TKILL) && !own {
        return Err(Errno::EPERM);
    }
    Ok(SigInfo {
        signo: sig as u8,
        code,
        queued: Some(raw[16..32].try_into().unwrap()),
        ..SigInfo::default()
    })
}

impl Kernel {
    /// The live processes of process group `pgid`, the caller `cur` (not in `procs` while
    /// it runs) included if it is one.
    pub(crate) fn group_members(&self, cur: &Process, pgid: Pid) -> Vec<Pid> {
        let mut v: Vec<Pid> = self
            .procs
            .values()
            .filter(|c| c.pgid == pgid && !c.is_zombie())
            .map(|c| c.pid)
            .collect();
        if cur.pgid == pgid {
            v.push(cur.pid);
        }
        v
    }
}

pub fn sys_kill(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (pid, sig) = (a[0] as i32, a[1]);
    if sig > signal::NSIG as u64 {
        return Err(Errno::EINVAL);
    }
    let info = user_info(p, sig as u8, signal::SI_USER);
    kill(k, p, pid, info)
}

/// rt_sigqueueinfo(2) (sigqueue(3)): a signal with the caller's siginfo to process
/// `pid`, with kill(2)'s permission rules.
pub fn sys_rt_sigqueueinfo(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let pid = a[0] as i32;
    let info = queued_info(k, p, a[1], a[2], pid == p.pid)?;
    if pid <= 0 {
        // kill_proc_info takes one process: 0 and negative ids name none.
        return Err(Errno::ESRCH);
    }
    kill(k, p, pid, info)
}

/// rt_tgsigqueueinfo(2): the same for one thread of thread group `tgid`.
pub fn sys_rt_tgsigqueueinfo(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (tgid, tid) = (a[0] as i32, a[1] as i32);
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let own = tgid == p.pid && p.threads.iter().any(|t| t.tid == tid);
    let info = queued_info(k, p, a[2], a[3], own)?;
    signal_thread(k, p, Some(tgid), tid, info)
}

/// kill(2)'s delivery of `info` to `pid` (a process, a group, or -1 for all).
fn kill(k: &mut Kernel, p: &mut Process, pid: Pid, info: SigInfo) -> SysResult {
    let sig = info.signo;
    let targets: Vec<Pid> = match pid {
        // -INT_MIN names no group (kill_something_info refuses it the same way).
        i32::MIN => return Err(Errno::ESRCH),
        n if n > 0 => vec![n],
        -1 => k
            .procs
            .values()
            .filter(|c| c.pid > 1 && !c.is_zombie())
            .map(|c| c.pid)
            .collect(),
        n => k.group_members(p, if n == 0 { p.pgid } else { -n }),
    };
    let mut any = false;
    let mut denied = false;
    for target in targets {
        // check_kill_permission(): root, the same user, or SIGCONT within the session.
        let allowed = target == p.pid
            || k.procs.get(&target).is_none_or(|t| {
                p.creds.may_signal(&t.creds) || (sig == signal::SIGCONT && t.sid == p.sid)
            });
        if !allowed {
            denied = true;
            continue;
        }
        if sig == 0 {
            any |= target == p.pid || k.procs.contains_key(&target);
        } else {
            any |= k.signal_process(p, target, sig, info);
        }
    }
    match (any, denied) {
        (true, _) => Ok(0),
        // kill(-1, ...) counts a refusal as a signalled process (kill_something_info).
        (false, true) if pid == -1 => Ok(0),
        (false, true) => Err(Errno::EPERM),
        (false, false) => Err(Errno::ESRCH),
    }
}

/// Signal one thread: (thread group or any, thread id).
fn signal_thread(
    k: &mut Kernel,
    p: &mut Process,
    tgid: Option<Pid>,
    tid: Pid,
    info: SigInfo,
) -> SysResult {
    if tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let sig = info.signo;
    let owner = if p.threads.iter().any(|t| t.tid == tid) {
        p.pid
    } else {
        k.procs
            .values()
            .find(|c| c.threads.iter().any(|t| t.tid == tid))
            .map(|c| c.pid)
            .ok_or(Errno::ESRCH)?
    };
    if tgid.is_some_and(|g| g != owner) {
        return Err(Errno::ESRCH);
    }
    if sig == 0 {
        return Ok(0);
    }
    let target = if owner == p.pid {
        &mut *p
    } else {
        k.procs.get_mut(&owner).unwrap()
    };
    // Actions that apply to the whole process (SIGKILL, stop/continue, ignored) go through
    // the process path; the rest is pending for that one thread.
    let act = target.sigactions[sig as usize - 1];
    if act.handler > signal::SIG_IGN && sig != signal::SIGKILL {
        let t = target.threads.iter_mut().find(|t| t.tid == tid).unwrap();
        t.post(SigInfo { signo: sig, ..info });
        k.progress += 1;
    } else {
        k.signal_process(p, owner, sig, info);
    }
    Ok(0)
}

/// tkill/tgkill's siginfo (SI_TKILL); EINVAL for a bad signal number.
fn tkill_info(p: &Process, sig: u64) -> Result<SigInfo, Errno> {
    if sig > signal::NSIG as u64 {
        return Err(Errno::EINVAL);
    }
    Ok(user_info(p, sig as u8, signal::SI_TKILL))
}

pub fn sys_tkill(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let info = tkill_info(p, a[1])?;
    signal_thread(k, p, None, a[0] as i32, info)
}

pub fn sys_tgkill(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    if (a[0] as i32) <= 0 {
        return Err(Errno::EINVAL);
    }
    let info = tkill_info(p, a[2])?;
    signal_thread(k, p, Some(a[0] as i32), a[1] as i32, info)
}

const ITIMER_REAL: u64 = 0;

fn timeval_ns(b: &[u8]) -> Result<u64, Errno> {
    let sec = i64::from_le_bytes(b[0..8].try_into().unwrap());
    let usec = i64::from_le_bytes(b[8..16].try_into().unwrap());
    if sec < 0 || !(0..1_000_000).contains(&usec) {
        return Err(Errno::EINVAL);
    }
    // Linux's timeval_to_ktime saturates at KTIME_MAX (i64::MAX ns, 292 years) rather
    // than refusing a far-off time.
    Ok((sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(usec as u64 * 1000)
        .min(i64::MAX as u64))
}

fn ns_timeval(ns: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
    b[8..16].copy_from_slice(&((ns % 1_000_000_000) / 1000).to_le_bytes());
    b
}

/// An interval timer: (next expiry, interval), in ns of its clock.
type ITimer = Option<(u64, u64)>;

/// A timer as `struct itimerval` (interval, then the time left: at least 1 us while it
/// runs) from its (expiry, interval) and the clock's `now`.
fn itimerval(timer: ITimer, now: u64) -> [u8; 32] {
    let mut b = [0u8; 32];
    if let Some((expiry, interval)) = timer {
        let left = expiry.saturating_sub(now).max(1000);
        b[0..16].copy_from_slice(&ns_timeval(interval));
        b[16..32].copy_from_slice(&ns_timeval(left));
    }
    b
}

/// ITIMER_REAL counts monotonic time; ITIMER_VIRTUAL and ITIMER_PROF the process's CPU
/// time (`Process::cpu_ns`): the timer's slot, and its clock now.
fn itimer_slot<'a>(
    k: &mut Kernel,
    p: &'a mut Process,
    which: u64,
) -> Result<(&'a mut ITimer, u64), Errno> {
    match which {
        ITIMER_REAL => Ok((&mut p.itimer_real, k.host.monotonic_ns())),
        1 | 2 => {
            let now = p.cpu_ns();
            Ok((&mut p.itimer_cpu[which as usize - 1], now))
        }
        _ => Err(Errno::EINVAL),
    }
}

pub fn sys_getitimer(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (slot, now) = itimer_slot(k, p, a[0])?;
    let v = itimerval(*slot, now);
    k.write_user(p, a[1], &v)?;
    Ok(0)
}

pub fn sys_setitimer(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (which, new, old) = (a[0], a[1], a[2]);
    let b = if new != 0 {
        Some(k.read_user(p, new, 32)?)
    } else {
        None
    };
    let (slot, now) = itimer_slot(k, p, which)?;
    let previous = itimerval(*slot, now);
    if let Some(b) = b {
        let interval = timeval_ns(&b[0..16])?;
        let value = timeval_ns(&b[16..32])?;
        *slot = (value != 0).then(|| (now.saturating_add(value), interval));
    }
    if old != 0 {
        k.write_user(p, old, &previous)?;
    }
    Ok(0)
}
