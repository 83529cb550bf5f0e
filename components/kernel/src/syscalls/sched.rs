//! Scheduling priorities: getpriority/setpriority (nice, renice) and the sched_*
//! policy calls (chrt, os.sched_setscheduler).
//!
//! friscy runs every thread on one interpreter loop and does not weigh them by priority,
//! so these record what was asked and report it back, with Linux's ranges, permission
//! rules and errors (kernel/sys.c `set_one_prio`, kernel/sched/syscalls.c): a program
//! that lowers its priority with `nice` or checks its policy sees what it would on Linux.
//! Priorities are per process here (Linux keeps them per thread).

use friscy_abi::Errno;

use super::{Args, SysResult};
use crate::Kernel;
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
    let nice_limit = k.limits(p, RLIMIT_NICE)?.0;
    let mut error = None;
    for pid in pids {
        let (uid, euid, old) = {
            let q = if pid == p.pid { &*p } else { &k.procs[&pid] };
            (q.creds.uid.real, q.creds.uid.eff, q.sched.nice)
        };
        let caller = &p.creds;
        if !caller.capable() && uid != caller.uid.eff && euid != caller.uid.eff {
            error = Some(Errno::EPERM);
            continue;
        }
        // can_nice(): CAP_SYS_NICE, or 20 - nice within RLIMIT_NICE.
        if nice < old && !caller.capable() && (20 - nice as i64) as u64 > nice_limit {
            error = Some(Errno::EACCES);
            continue;
        }
        k.sched_mut(p, pid).nice = nice;
    }
    error.map_or(Ok(0), Err)
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
    let (policy, reset) = match policy {
        Some(v) => (v & !SCHED_RESET_ON_FORK, v & SCHED_RESET_ON_FORK != 0),
        None => (old.policy, old.reset_on_fork),
    };
    let realtime = matches!(policy, SCHED_FIFO | SCHED_RR);
    match policy {
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE if priority == 0 => {}
        SCHED_FIFO | SCHED_RR if (1..=99).contains(&priority) => {}
        // SCHED_DEADLINE is set with sched_setattr only.
        _ => return Err(Errno::EINVAL),
    }
    let caller = &p.creds;
    if !caller.capable() {
        let (uid, euid) = {
            let q = if pid == p.pid { &*p } else { &k.procs[&pid] };
            (q.creds.uid.real, q.creds.uid.eff)
        };
        if uid != caller.uid.eff && euid != caller.uid.eff {
            return Err(Errno::EPERM);
        }
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
/// least 0 when the parent asked for SCHED_RESET_ON_FORK.
pub fn inherit(s: Sched) -> Sched {
    if s.reset_on_fork {
        Sched {
            nice: s.nice.max(0),
            ..Sched::default()
        }
    } else {
        s
    }
}
