//! Scheduling priorities: getpriority/setpriority (nice, renice), the sched_* policy
//! calls (chrt, os.sched_setscheduler) and ioprio_get/ioprio_set (ionice).
//!
//! friscy runs every thread on one interpreter loop and does not weigh them by priority,
//! so these record what was asked and report it back, with Linux's ranges, permission
//! rules and errors (kernel/sys.c `set_one_prio`, kernel/sched/syscalls.c): a program
//! that lowers its priority with `nice` or checks its policy sees what it would on Linux.
//! Priorities are per process here (Linux keeps them per thread).

use friscy_abi::Errno;

use super::{Args, SysResult};
use crate::Kernel;
use crate::creds::cap;
use crate::process::{Pid, Process, Sched};

const PRIO_PROCESS: u64 = 0;
const PRIO_PGRP: u64 = 1;
const PRIO_USER: u64 = 2;
const MIN_NICE: i64 = -20;
const MAX_NICE: i64 = 19;

const SCHED_OTHER: u32 = 0;
const SCHED_FIFO: u32 = 1;
const SCHED_RR: u32 = 2;
const SCHED_BATCH: u32 = 3;
const SCHED_IDLE: u32 = 5;
const SCHED_DEADLINE: u32 = 6;
/// Or'ed into a policy: a child starts with SCHED_OTHER and a nice of at least 0.
const SCHED_RESET_ON_FORK: u32 = 0x4000_0000;

/// RLIMIT_NICE and RLIMIT_RTPRIO: what an unprivileged process may raise itself to.
const RLIMIT_NICE: u64 = 13;
const RLIMIT_RTPRIO: u64 = 14;

/// SCHED_FLAG_RESET_ON_FORK and SCHED_FLAG_KEEP_POLICY (sched_setattr's `sched_flags`).
const SCHED_FLAG_RESET_ON_FORK: u64 = 0x01;
const SCHED_FLAG_KEEP_POLICY: u64 = 0x08;
const SCHED_FLAG_KEEP_PARAMS: u64 = 0x10;
/// `struct sched_attr`'s first published size, and the size with the utilisation clamps.
const SCHED_ATTR_SIZE_VER0: u64 = 48;
const SCHED_ATTR_SIZE_VER1: u64 = 56;
/// The time slice sched_getattr reports for a normal task: EEVDF's base slice (0.75 ms)
/// scaled by 1 + ilog2(CPUs), one CPU here.
const BASE_SLICE_NS: u64 = 750_000;

/// The processes `which`/`who` select (getpriority(2)): the caller first, then the others.
fn select(k: &Kernel, p: &Process, which: u64, who: u32) -> Result<Vec<Pid>, Errno> {
    let matches = |q: &Process| match which {
        PRIO_PROCESS => q.pid == if who == 0 { p.pid } else { who as Pid },
        PRIO_PGRP => q.pgid == if who == 0 { p.pgid } else { who as Pid },
        _ => q.creds.uid.real == if who == 0 { p.creds.uid.real } else { who },
    };
    if which > PRIO_USER {
        return Err(Errno::EINVAL);
    }
    let others = k
        .procs
        .values()
        .filter(|q| q.pid != p.pid && !q.is_zombie());
    Ok(std::iter::once(p)
        .chain(others)
        .filter(|q| matches(q))
        .map(|q| q.pid)
        .collect())
}

/// getpriority(2): the highest priority among the selected processes, as the syscall
/// returns it (20 - nice, so never negative; the libc turns it back into a nice value).
pub fn sys_getpriority(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let pids = select(k, p, a[0], a[1] as u32)?;
    pids.iter()
        .map(|&pid| k.sched_of(p, pid).nice)
        .min()
        .map(|nice| (20 - nice as i64) as u64)
        .ok_or(Errno::ESRCH)
}

/// setpriority(2): sets the nice value of every selected process. Another user's process
/// needs privilege (EPERM), and so does a lower nice value than the process has (EACCES)
/// unless RLIMIT_NICE allows it.
pub fn sys_setpriority(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let nice = (a[2] as i32 as i64).clamp(MIN_NICE, MAX_NICE) as i8;
    let pids = select(k, p, a[0], a[1] as u32)?;
    if pids.is_empty() {
        return Err(Errno::ESRCH);
    }
    let mut error = None;
    for pid in pids {
        if let Err(e) = set_nice(k, p, pid, nice) {
            error = Some(e);
        }
    }
    error.map_or(Ok(0), Err)
}

/// Whether the caller may change `pid`'s priorities: its own, a process of the same user,
/// or with privilege (EPERM otherwise).
fn may_change(k: &Kernel, p: &Process, pid: Pid) -> Result<(), Errno> {
    let q = if pid == p.pid { p } else { &k.procs[&pid] };
    let caller = &p.creds;
    if caller.capable(cap::SYS_NICE)
        || q.creds.uid.real == caller.uid.eff
        || q.creds.uid.eff == caller.uid.eff
    {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// set_one_prio(): a lower nice value than the process has needs CAP_SYS_NICE, or 20 -
/// nice within RLIMIT_NICE (EACCES).
fn set_nice(k: &mut Kernel, p: &mut Process, pid: Pid, nice: i8) -> Result<(), Errno> {
    may_change(k, p, pid)?;
    let old = k.sched_of(p, pid).nice;
    if nice < old
        && !p.creds.capable(cap::SYS_NICE)
        && (20 - nice as i64) as u64 > k.limits(p, RLIMIT_NICE)?.0
    {
        return Err(Errno::EACCES);
    }
    k.sched_mut(p, pid).nice = nice;
    Ok(())
}

/// The process sched_* calls name (0: the caller).
fn target(k: &Kernel, p: &Process, pid: i64) -> Result<Pid, Errno> {
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    let pid = if pid == 0 { p.pid } else { pid as Pid };
    if pid == p.pid || k.procs.get(&pid).is_some_and(|q| !q.is_zombie()) {
        Ok(pid)
    } else {
        Err(Errno::ESRCH)
    }
}

/// Sets a policy and priority (`policy` None: keep the policy, sched_setparam).
fn set_scheduler(k: &mut Kernel, p: &mut Process, a: Args, policy: Option<u32>) -> SysResult {
    let (pid, param) = (a[0] as i64, if policy.is_some() { a[2] } else { a[1] });
    if param == 0 {
        return Err(Errno::EINVAL);
    }
    let pid = target(k, p, pid)?;
    let priority = k.read_user(p, param, 4)?;
    let priority = i32::from_le_bytes(priority.try_into().expect("4 bytes"));
    let old = k.sched_of(p, pid);
    let policy = policy.unwrap_or(
        old.policy
            | if old.reset_on_fork {
                SCHED_RESET_ON_FORK
            } else {
                0
            },
    );
    set_policy(k, p, pid, policy, priority)
}

/// Sets `pid`'s policy (with SCHED_RESET_ON_FORK or'ed in) and real-time priority.
fn set_policy(k: &mut Kernel, p: &mut Process, pid: Pid, policy: u32, priority: i32) -> SysResult {
    let old = k.sched_of(p, pid);
    let (policy, reset) = (
        policy & !SCHED_RESET_ON_FORK,
        policy & SCHED_RESET_ON_FORK != 0,
    );
    let realtime = matches!(policy, SCHED_FIFO | SCHED_RR);
    match policy {
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE if priority == 0 => {}
        SCHED_FIFO | SCHED_RR if (1..=99).contains(&priority) => {}
        // SCHED_DEADLINE is set with sched_setattr only.
        _ => return Err(Errno::EINVAL),
    }
    may_change(k, p, pid)?;
    if !p.creds.capable(cap::SYS_NICE) {
        // Real-time needs CAP_SYS_NICE or RLIMIT_RTPRIO; so does leaving SCHED_IDLE or
        // clearing reset-on-fork (sched/syscalls.c user_check_sched_setscheduler).
        let rtprio = k.limits(p, RLIMIT_RTPRIO)?.0;
        if (realtime
            && (priority as u64 > rtprio || (priority > old.priority as i32 && rtprio == 0)))
            || (old.policy == SCHED_IDLE && policy != SCHED_IDLE)
            || (old.reset_on_fork && !reset)
        {
            return Err(Errno::EPERM);
        }
    }
    let s = k.sched_mut(p, pid);
    s.policy = policy;
    s.priority = priority as u8;
    s.reset_on_fork = reset;
    Ok(0)
}

pub fn sys_sched_setscheduler(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    set_scheduler(k, p, a, Some(a[1] as u32))
}

pub fn sys_sched_setparam(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    set_scheduler(k, p, a, None)
}

pub fn sys_sched_getscheduler(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let s = k.sched_of(p, target(k, p, a[0] as i64)?);
    Ok((s.policy
        | if s.reset_on_fork {
            SCHED_RESET_ON_FORK
        } else {
            0
        }) as u64)
}

pub fn sys_sched_getparam(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    if a[1] == 0 {
        return Err(Errno::EINVAL);
    }
    let s = k.sched_of(p, target(k, p, a[0] as i64)?);
    k.write_user(p, a[1], &(s.priority as i32).to_le_bytes())?;
    Ok(0)
}

pub fn sys_sched_get_priority_max(_k: &mut Kernel, _p: &mut Process, a: Args) -> SysResult {
    match a[0] as u32 {
        SCHED_FIFO | SCHED_RR => Ok(99),
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE | SCHED_DEADLINE => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

pub fn sys_sched_get_priority_min(_k: &mut Kernel, _p: &mut Process, a: Args) -> SysResult {
    match a[0] as u32 {
        SCHED_FIFO | SCHED_RR => Ok(1),
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE | SCHED_DEADLINE => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// sched_rr_get_interval(2): SCHED_RR's time slice (RR_TIMESLICE, 100 ms); 0 for the
/// other policies, as Linux reports them (EEVDF's slice is below a jiffy).
pub fn sys_sched_rr_get_interval(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let s = k.sched_of(p, target(k, p, a[0] as i32 as i64)?);
    let ns: u64 = if s.policy == SCHED_RR { 100_000_000 } else { 0 };
    let mut ts = [0u8; 16];
    ts[0..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
    ts[8..16].copy_from_slice(&(ns % 1_000_000_000).to_le_bytes());
    k.write_user(p, a[1], &ts)?;
    Ok(0)
}

/// sched_getattr(2): the policy, flags, nice value and priority in a `struct sched_attr`
/// of the size the caller gives (at least the first published one), with `size` set to
/// what was written.
pub fn sys_sched_getattr(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (attr, size, flags) = (a[1], a[2], a[3]);
    if attr == 0 || flags != 0 || !(SCHED_ATTR_SIZE_VER0..=4096).contains(&size) {
        return Err(Errno::EINVAL);
    }
    let s = k.sched_of(p, target(k, p, a[0] as i64)?);
    let normal = !matches!(s.policy, SCHED_FIFO | SCHED_RR);
    let len = size.min(SCHED_ATTR_SIZE_VER1);
    let mut out = Vec::with_capacity(len as usize);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&s.policy.to_le_bytes());
    out.extend_from_slice(
        &(if s.reset_on_fork {
            SCHED_FLAG_RESET_ON_FORK
        } else {
            0
        })
        .to_le_bytes(),
    );
    out.extend_from_slice(&(if normal { s.nice as i32 } else { 0 }).to_le_bytes());
    out.extend_from_slice(&(s.priority as u32).to_le_bytes());
    // sched_runtime, sched_deadline, sched_period; then the utilisation clamps' range.
    out.extend_from_slice(&(if normal { BASE_SLICE_NS } else { 0 }).to_le_bytes());
    out.extend_from_slice(&[0; 16]);
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&1024u32.to_le_bytes());
    out.truncate(len as usize);
    k.write_user(p, attr, &out)?;
    Ok(0)
}

/// sched_setattr(2): sched_setscheduler and setpriority in one (SCHED_DEADLINE and the
/// utilisation clamps are not supported: EINVAL, logged when tracing).
pub fn sys_sched_setattr(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (attr, flags) = (a[1], a[2]);
    if attr == 0 || flags != 0 || (a[0] as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let size =
        match u32::from_le_bytes(k.read_user(p, attr, 4)?.try_into().expect("4 bytes")) as u64 {
            0 => SCHED_ATTR_SIZE_VER0,
            n => n,
        };
    // sched_copy_attr(): a size the kernel cannot take is E2BIG, with its own size
    // written back; bytes past what it knows must be zero.
    if !(SCHED_ATTR_SIZE_VER0..=4096).contains(&size) {
        k.write_user(p, attr, &(SCHED_ATTR_SIZE_VER1 as u32).to_le_bytes())?;
        return Err(Errno::E2BIG);
    }
    let bytes = k.read_user(p, attr, size as usize)?;
    if size > SCHED_ATTR_SIZE_VER1
        && bytes[SCHED_ATTR_SIZE_VER1 as usize..]
            .iter()
            .any(|&b| b != 0)
    {
        k.write_user(p, attr, &(SCHED_ATTR_SIZE_VER1 as u32).to_le_bytes())?;
        return Err(Errno::E2BIG);
    }
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
    let sched_flags = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    let (nice, priority) = (u32_at(16) as i32, u32_at(20));
    let pid = target(k, p, a[0] as i64)?;
    let known = SCHED_FLAG_RESET_ON_FORK | SCHED_FLAG_KEEP_POLICY | SCHED_FLAG_KEEP_PARAMS;
    let mut policy = u32_at(4);
    if sched_flags & !known != 0 || policy == SCHED_DEADLINE {
        if k.trace {
            k.report(
                "sched_setattr: SCHED_DEADLINE and utilisation clamps are not supported (EINVAL)",
            );
        }
        return Err(Errno::EINVAL);
    }
    let old = k.sched_of(p, pid);
    if sched_flags & SCHED_FLAG_KEEP_POLICY != 0 {
        policy = old.policy;
    }
    let reset = if sched_flags & SCHED_FLAG_RESET_ON_FORK != 0 {
        SCHED_RESET_ON_FORK
    } else {
        0
    };
    // The policy and priority with sched_setscheduler's checks, then the nice value
    // with setpriority's.
    let param = if sched_flags & SCHED_FLAG_KEEP_PARAMS != 0 {
        old.priority as u32
    } else {
        priority
    };
    set_policy(k, p, pid, policy | reset, param as i32)?;
    if !matches!(policy, SCHED_FIFO | SCHED_RR) && sched_flags & SCHED_FLAG_KEEP_PARAMS == 0 {
        set_nice(k, p, pid, (nice as i64).clamp(MIN_NICE, MAX_NICE) as i8)?;
    }
    Ok(0)
}

/// ioprio_set(2)'s which values (IOPRIO_WHO_PROCESS, _PGRP, _USER), offset from
/// getpriority's by one.
const IOPRIO_WHO_PROCESS: u64 = 1;
const IOPRIO_CLASS_RT: u16 = 1;
const IOPRIO_CLASS_BE: u16 = 2;
const IOPRIO_CLASS_IDLE: u16 = 3;

/// ioprio_get(2): the best (lowest) I/O priority among the selected processes.
pub fn sys_ioprio_get(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    if !(IOPRIO_WHO_PROCESS..=IOPRIO_WHO_PROCESS + 2).contains(&a[0]) {
        return Err(Errno::EINVAL);
    }
    let pids = select(k, p, a[0] - IOPRIO_WHO_PROCESS, a[1] as u32)?;
    pids.iter()
        .map(|&pid| k.sched_of(p, pid).ioprio)
        .min()
        .map(u64::from)
        .ok_or(Errno::ESRCH)
}

/// ioprio_set(2): class and level checked as Linux does (real-time needs privilege).
pub fn sys_ioprio_set(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    if !(IOPRIO_WHO_PROCESS..=IOPRIO_WHO_PROCESS + 2).contains(&a[0]) {
        return Err(Errno::EINVAL);
    }
    // ioprio_check_cap(): the class is bits 15:13, the level bits 2:0 (bits 12:3 are
    // hints since Linux 6.5, passed along unchecked).
    let ioprio = a[2] as u16;
    let (class, level) = ((ioprio >> 13) & 7, ioprio & 7);
    match class {
        // ioprio_check_cap(): CAP_SYS_NICE, or CAP_SYS_ADMIN as before Linux 5.9.
        IOPRIO_CLASS_RT if !p.creds.capable(cap::SYS_NICE) && !p.creds.capable(cap::SYS_ADMIN) => {
            return Err(Errno::EPERM);
        }
        IOPRIO_CLASS_RT | IOPRIO_CLASS_BE | IOPRIO_CLASS_IDLE => {}
        0 if level == 0 => {}
        _ => return Err(Errno::EINVAL),
    }
    let pids = select(k, p, a[0] - IOPRIO_WHO_PROCESS, a[1] as u32)?;
    if pids.is_empty() {
        return Err(Errno::ESRCH);
    }
    for pid in pids {
        may_change(k, p, pid)?;
        k.sched_mut(p, pid).ioprio = ioprio;
    }
    Ok(0)
}

impl Kernel {
    fn sched_of(&self, p: &Process, pid: Pid) -> Sched {
        if pid == p.pid {
            p.sched
        } else {
            self.procs[&pid].sched
        }
    }

    fn sched_mut<'a>(&'a mut self, p: &'a mut Process, pid: Pid) -> &'a mut Sched {
        if pid == p.pid {
            &mut p.sched
        } else {
            &mut self.procs.get_mut(&pid).expect("selected above").sched
        }
    }
}

/// What a child starts with (fork, clone): the parent's, or SCHED_OTHER and a nice of at
/// least 0 when the parent asked for SCHED_RESET_ON_FORK (the I/O priority is kept).
pub fn inherit(s: Sched) -> Sched {
    if s.reset_on_fork {
        Sched {
            nice: s.nice.max(0),
            ioprio: s.ioprio,
            ..Sched::default()
        }
    } else {
        s
    }
}

/// getcpu(2): the CPU and NUMA node the caller runs on: friscy is one CPU (what
/// sched_getaffinity and /proc/cpuinfo show) on one node. Either pointer may be null;
/// the third argument (a cache) is unused, as since Linux 2.6.24.
pub fn sys_getcpu(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    for addr in [a[0], a[1]] {
        if addr != 0 {
            k.write_user(p, addr, &0u32.to_le_bytes())?;
        }
    }
    Ok(0)
}
