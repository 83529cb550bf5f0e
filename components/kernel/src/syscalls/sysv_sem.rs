//! System V semaphores: semget, semop, semtimedop, semctl (ipc/sem.c).
//!
//! A set is an array of counters. semop applies all of its operations or none: when one
//! cannot proceed (a decrement below zero, a wait-for-zero on a non-zero counter) the
//! thread parks having changed nothing, and the whole call is tried again after other
//! threads make progress (a semop, a SETVAL, an exit's undo), so no partial work is ever
//! done before parking. Like Linux, semop is never restarted after a signal handler
//! (EINTR), semtimedop's timeout gives EAGAIN, and a set removed under a waiter gives it
//! EIDRM. SEM_UNDO adjustments are kept per process and applied when it exits (clamped to
//! 0..=SEMVMX as Linux does); fork starts the child without any, SETVAL and SETALL clear
//! them for the counters they set. Keys, ids and permissions are ipc.rs's.

use std::collections::BTreeMap;

use friscy_abi::Errno;

use super::signal::read_timespec_ns;
use super::{Args, SysResult};
use crate::ipc::{
    Got, IPC_64, IPC_INFO, IPC_MNI, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT, IpcPerm, IpcTable,
    PERM_SIZE,
};
use crate::process::{Pid, Wake};
use crate::{Kernel, Process};

const GETPID: u64 = 11;
const GETVAL: u64 = 12;
const GETALL: u64 = 13;
const GETNCNT: u64 = 14;
const GETZCNT: u64 = 15;
const SETVAL: u64 = 16;
const SETALL: u64 = 17;
const SEM_STAT: u64 = 18;
const SEM_INFO: u64 = 19;
const SEM_STAT_ANY: u64 = 20;

const SEM_UNDO: u16 = 0x1000;

/// Linux's defaults: counters per set, in all, operations per call, the largest value.
const SEMMSL: u64 = 32000;
const SEMMNS: i32 = 1_024_000_000;
const SEMOPM: usize = 500;
const SEMVMX: i32 = 32767;

/// struct semid64_ds (asm-generic, 64-bit): 88 bytes.
const SEMID_DS_SIZE: usize = 88;

#[derive(Clone, Copy, Debug, Default)]
struct Sem {
    val: i32,
    /// The last process to operate on it (GETPID).
    pid: Pid,
}

#[derive(Debug)]
pub struct SemSet {
    sems: Vec<Sem>,
    otime: i64,
    ctime: i64,
    /// Threads parked in semop on this set, with what they wait for: (counter, whether
    /// for zero), for GETNCNT and GETZCNT.
    waiters: BTreeMap<Pid, (u16, bool)>,
}

/// The semaphore sets, and each process's SEM_UNDO adjustments: (pid, set id, counter)
/// to the amount its exit adds back.
#[derive(Debug, Default)]
pub struct Semaphores {
    sets: IpcTable<SemSet>,
    undo: BTreeMap<(Pid, i32, u16), i32>,
}

/// One struct sembuf.
#[derive(Clone, Copy, Debug)]
struct SemBuf {
    num: u16,
    op: i16,
    flg: u16,
}

/// What a semop found: it can run (the new values), or one operation must wait.
enum Trial {
    Done(Vec<(u16, i32)>),
    Wait(SemBuf),
}

/// Try `ops` on `sems` as one atomic step.
fn trial(sems: &[Sem], ops: &[SemBuf]) -> Result<Trial, Errno> {
    let mut vals: Vec<(u16, i32)> = Vec::new();
    for o in ops {
        let cur = vals
            .iter()
            .rev()
            .find(|(n, _)| *n == o.num)
            .map_or(sems[o.num as usize].val, |&(_, v)| v);
        let op = o.op as i32;
        if op == 0 {
            if cur != 0 {
                return Ok(Trial::Wait(*o));
            }
            continue;
        }
        let new = cur + op;
        if new < 0 {
            return Ok(Trial::Wait(*o));
        }
        if new > SEMVMX {
            return Err(Errno::ERANGE);
        }
        vals.push((o.num, new));
    }
    Ok(Trial::Done(vals))
}

impl Kernel {
    /// A process exits: its SEM_UNDO adjustments are applied (Linux's exit_sem).
    pub(crate) fn sem_exit(&mut self, pid: Pid) {
        let mine: Vec<((Pid, i32, u16), i32)> = self
            .sysv_sem
            .undo
            .range((pid, i32::MIN, 0)..=(pid, i32::MAX, u16::MAX))
            .map(|(k, v)| (*k, *v))
            .collect();
        for ((_, id, num), adj) in mine {
            self.sysv_sem.undo.remove(&(pid, id, num));
            if let Ok((_, set)) = self.sysv_sem.sets.get_mut(id)
                && let Some(s) = set.sems.get_mut(num as usize)
            {
                s.val = (s.val + adj).clamp(0, SEMVMX);
                s.pid = pid;
            }
        }
    }

    /// SETVAL/SETALL/IPC_RMID: forget every process's adjustments for these counters.
    fn sem_clear_undo(&mut self, id: i32, num: Option<u16>) {
        self.sysv_sem
            .undo
            .retain(|&(_, i, n), _| i != id || num.is_some_and(|m| m != n));
    }

    /// struct semid64_ds of a set.
    fn semid_ds(perm: &IpcPerm, set: &SemSet) -> Vec<u8> {
        let mut b = perm.bytes();
        for v in [set.otime, set.ctime, set.sems.len() as i64] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.resize(SEMID_DS_SIZE, 0);
        b
    }
}

pub fn sys_semget(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (key, nsems, flags) = (a[0] as i32, a[1] as i32, a[2]);
    if nsems < 0 || nsems as u64 > SEMMSL {
        return Err(Errno::EINVAL);
    }
    if let Got::Existing(i) = k.sysv_sem.sets.lookup(key, flags, &p.creds)? {
        let (perm, set) = &k.sysv_sem.sets.by_index[&i];
        if nsems as usize > set.sems.len() {
            return Err(Errno::EINVAL);
        }
        return Ok(IpcTable::<SemSet>::id_of(i, perm) as u64);
    }
    if nsems == 0 {
        return Err(Errno::EINVAL);
    }
    let in_use: i32 = k
        .sysv_sem
        .sets
        .by_index
        .values()
        .map(|(_, s)| s.sems.len() as i32)
        .sum();
    if in_use + nsems > SEMMNS {
        return Err(Errno::ENOSPC);
    }
    let set = SemSet {
        sems: vec![Sem::default(); nsems as usize],
        otime: 0,
        ctime: k.now_secs(),
        waiters: BTreeMap::new(),
    };
    let id = k
        .sysv_sem
        .sets
        .insert(IpcPerm::new(key, &p.creds, flags), set)?;
    Ok(id as u64)
}

pub fn sys_semop(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    semtimedop(k, p, a[0] as i32, a[1], a[2], 0)
}

pub fn sys_semtimedop(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    semtimedop(k, p, a[0] as i32, a[1], a[2], a[3])
}

fn semtimedop(
    k: &mut Kernel,
    p: &mut Process,
    id: i32,
    sops: u64,
    nsops: u64,
    timeout: u64,
) -> SysResult {
    if nsops == 0 {
        return Err(Errno::EINVAL);
    }
    if nsops as usize > SEMOPM {
        return Err(Errno::E2BIG);
    }
    let raw = k.read_user(p, sops, nsops as usize * 6)?;
    let ops: Vec<SemBuf> = raw
        .chunks_exact(6)
        .map(|c| SemBuf {
            num: u16::from_le_bytes([c[0], c[1]]),
            op: i16::from_le_bytes([c[2], c[3]]),
            flg: u16::from_le_bytes([c[4], c[5]]),
        })
        .collect();
    let timeout_ns = if timeout != 0 {
        Some(read_timespec_ns(k, p, timeout)?)
    } else {
        None
    };
    // A retry (the thread parked here before) whose set has gone was removed under it.
    let retry = p.thread().restart.is_some();
    let tid = p.tid();
    let (perm, set) = match k.sysv_sem.sets.get(id) {
        Ok(x) => x,
        Err(e) => return Err(if retry { Errno::EIDRM } else { e }),
    };
    if ops.iter().any(|o| o.num as usize >= set.sems.len()) {
        return Err(Errno::EFBIG);
    }
    let alter = ops.iter().any(|o| o.op != 0);
    perm.check(&p.creds, if alter { 2 } else { 4 })?;
    match trial(&set.sems, &ops)? {
        Trial::Wait(o) => {
            if o.flg & IPC_NOWAIT as u16 != 0 {
                if let Ok((_, set)) = k.sysv_sem.sets.get_mut(id) {
                    set.waiters.remove(&tid);
                }
                return Err(Errno::EAGAIN);
            }
            let deadline = k.deadline_in(p, timeout_ns);
            if k.expired(p) {
                if let Ok((_, set)) = k.sysv_sem.sets.get_mut(id) {
                    set.waiters.remove(&tid);
                }
                return Err(Errno::EAGAIN);
            }
            let (_, set) = k.sysv_sem.sets.get_mut(id)?;
            set.waiters.insert(tid, (o.num, o.op == 0));
            // Never restarted after a handler (signal(7)): EINTR.
            k.park(p, Wake::Event, deadline, false)
        }
        Trial::Done(vals) => {
            // SEM_UNDO adjustments must stay within a short's range, or the call fails
            // before changing anything (ERANGE), as Linux checks.
            let mut undo = Vec::new();
            for o in ops.iter().filter(|o| o.flg & SEM_UNDO != 0 && o.op != 0) {
                let key = (p.pid, id, o.num);
                let have = undo
                    .iter()
                    .rev()
                    .find(|(k2, _)| *k2 == key)
                    .map(|&(_, v)| v)
                    .unwrap_or_else(|| k.sysv_sem.undo.get(&key).copied().unwrap_or(0));
                let adj = have - o.op as i32;
                if !(-(SEMVMX + 1)..=SEMVMX).contains(&adj) {
                    return Err(Errno::ERANGE);
                }
                undo.push((key, adj));
            }
            let now = k.now_secs();
            let (_, set) = k.sysv_sem.sets.get_mut(id)?;
            for (num, v) in vals {
                set.sems[num as usize].val = v;
            }
            for o in &ops {
                set.sems[o.num as usize].pid = p.pid;
            }
            set.otime = now;
            set.waiters.remove(&tid);
            for (key, adj) in undo {
                if adj == 0 {
                    k.sysv_sem.undo.remove(&key);
                } else {
                    k.sysv_sem.undo.insert(key, adj);
                }
            }
            Ok(0)
        }
    }
}

pub fn sys_semctl(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (id, num, cmd, arg) = (a[0] as i32, a[1] as i32, a[2] & !IPC_64, a[3]);
    match cmd {
        IPC_INFO | SEM_INFO => {
            // struct seminfo: semmap, semmni, semmns, semmnu, semmsl, semopm, semume,
            // semusz, semvmx, semaem (ints). SEM_INFO reports use in semusz and semaem.
            let sets = &k.sysv_sem.sets.by_index;
            let (usz, aem) = if cmd == SEM_INFO {
                let n: usize = sets.values().map(|(_, s)| s.sems.len()).sum();
                (sets.len() as i32, n as i32)
            } else {
                (20, SEMVMX)
            };
            let info = [
                SEMMNS,
                IPC_MNI,
                SEMMNS,
                SEMMNS,
                SEMMSL as i32,
                SEMOPM as i32,
                SEMOPM as i32,
                usz,
                SEMVMX,
                aem,
            ];
            let b: Vec<u8> = info.iter().flat_map(|v| v.to_le_bytes()).collect();
            k.write_user(p, arg, &b)?;
            return Ok(k.sysv_sem.sets.highest_index());
        }
        SEM_STAT | SEM_STAT_ANY => {
            let (perm, set) = k.sysv_sem.sets.by_index.get(&id).ok_or(Errno::EINVAL)?;
            if cmd == SEM_STAT {
                perm.check(&p.creds, 4)?;
            }
            let ds = Kernel::semid_ds(perm, set);
            let sid = IpcTable::<SemSet>::id_of(id, perm);
            k.write_user(p, arg, &ds)?;
            return Ok(sid as u64);
        }
        _ => {}
    }
    let (perm, set) = k.sysv_sem.sets.get(id)?;
    let nsems = set.sems.len();
    let one = || -> Result<usize, Errno> {
        if num < 0 || num as usize >= nsems {
            Err(Errno::EINVAL)
        } else {
            Ok(num as usize)
        }
    };
    match cmd {
        IPC_STAT | GETVAL | GETPID | GETNCNT | GETZCNT | GETALL => perm.check(&p.creds, 4)?,
        SETVAL | SETALL => perm.check(&p.creds, 2)?,
        IPC_SET | IPC_RMID => {
            if !perm.owned_by(&p.creds) {
                return Err(Errno::EPERM);
            }
        }
        _ => return Err(Errno::EINVAL),
    }
    match cmd {
        IPC_STAT => {
            let ds = Kernel::semid_ds(perm, set);
            k.write_user(p, arg, &ds)?;
            Ok(0)
        }
        GETVAL => Ok(set.sems[one()?].val as u64),
        GETPID => Ok(set.sems[one()?].pid as u64),
        GETNCNT | GETZCNT => {
            let n = one()? as u16;
            let zero = cmd == GETZCNT;
            // Waiters still parked (one interrupted by a signal has left).
            let waiting =
                set.waiters
                    .iter()
                    .filter(|&(&tid, &(m, z))| {
                        m == n
                            && z == zero
                            && k.procs.values().chain(std::iter::once(&*p)).any(|q| {
                                q.threads.iter().any(|t| t.tid == tid && t.block.is_some())
                            })
                    })
                    .count();
            Ok(waiting as u64)
        }
        GETALL => {
            let b: Vec<u8> = set
                .sems
                .iter()
                .flat_map(|s| (s.val as u16).to_le_bytes())
                .collect();
            k.write_user(p, arg, &b)?;
            Ok(0)
        }
        SETVAL => {
            let n = one()?;
            let v = arg as i32;
            if !(0..=SEMVMX).contains(&v) {
                return Err(Errno::ERANGE);
            }
            let now = k.now_secs();
            let (_, set) = k.sysv_sem.sets.get_mut(id)?;
            set.sems[n] = Sem { val: v, pid: p.pid };
            set.ctime = now;
            k.sem_clear_undo(id, Some(n as u16));
            Ok(0)
        }
        SETALL => {
            let raw = k.read_user(p, arg, nsems * 2)?;
            let vals: Vec<i32> = raw
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]) as i32)
                .collect();
            if vals.iter().any(|&v| v > SEMVMX) {
                return Err(Errno::ERANGE);
            }
            let now = k.now_secs();
            let (_, set) = k.sysv_sem.sets.get_mut(id)?;
            for (s, v) in set.sems.iter_mut().zip(vals) {
                *s = Sem { val: v, pid: p.pid };
            }
            set.ctime = now;
            k.sem_clear_undo(id, None);
            Ok(0)
        }
        IPC_SET => {
            let ds = k.read_user(p, arg, PERM_SIZE)?;
            let now = k.now_secs();
            let (perm, set) = k.sysv_sem.sets.get_mut(id)?;
            perm.set_from(&ds);
            set.ctime = now;
            Ok(0)
        }
        IPC_RMID => {
            let index = k.sysv_sem.sets.index_of(id)?;
            k.sysv_sem.sets.by_index.remove(&index);
            k.sem_clear_undo(id, None);
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}
