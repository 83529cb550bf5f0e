//! Credentials: the uid and gid getters and setters, the supplementary group list
//! (credentials(7)), capget/capset and the credential options of prctl(2). The rules for
//! who may change what live in creds.rs; here are the arguments and the guest memory.

use friscy_abi::Errno;

use super::{Args, SysResult};
use crate::creds::{NGROUPS_MAX, cap, secbit};
use crate::{Kernel, Process};

/// An id argument: the kernel takes uid_t/gid_t as 32 bits, -1 meaning "unchanged".
fn id(a: u64) -> u32 {
    a as u32
}

pub fn sys_getuid(_k: &mut Kernel, p: &mut Process, _a: Args) -> SysResult {
    Ok(p.creds.uid.real as u64)
}

pub fn sys_geteuid(_k: &mut Kernel, p: &mut Process, _a: Args) -> SysResult {
    Ok(p.creds.uid.eff as u64)
}

pub fn sys_getgid(_k: &mut Kernel, p: &mut Process, _a: Args) -> SysResult {
    Ok(p.creds.gid.real as u64)
}

pub fn sys_getegid(_k: &mut Kernel, p: &mut Process, _a: Args) -> SysResult {
    Ok(p.creds.gid.eff as u64)
}

/// getresuid/getresgid: three u32s, each written where its pointer says.
fn put_res(k: &mut Kernel, p: &Process, a: Args, ids: [u32; 3]) -> SysResult {
    for (addr, v) in a[..3].iter().zip(ids) {
        k.write_user(p, *addr, &v.to_le_bytes())?;
    }
    Ok(0)
}

pub fn sys_getresuid(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let u = p.creds.uid;
    put_res(k, p, a, [u.real, u.eff, u.saved])
}

pub fn sys_getresgid(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let g = p.creds.gid;
    put_res(k, p, a, [g.real, g.eff, g.saved])
}

// The user-id setters: CAP_SETUID, and the capability sets follow (Creds::set_uids).

pub fn sys_setuid(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    p.creds.set_uids(|ids, cap| ids.set(id(a[0]), cap))?;
    Ok(0)
}

pub fn sys_setreuid(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    p.creds
        .set_uids(|ids, cap| ids.set_re(id(a[0]), id(a[1]), cap))?;
    Ok(0)
}

pub fn sys_setresuid(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    p.creds
        .set_uids(|ids, cap| ids.set_res(id(a[0]), id(a[1]), id(a[2]), cap))?;
    Ok(0)
}

/// setfsuid(2): the previous filesystem uid, whether or not it changed.
pub fn sys_setfsuid(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    Ok(p.creds.set_fsuid(id(a[0])) as u64)
}

// The group-id setters: CAP_SETGID; capabilities do not follow group ids.

pub fn sys_setgid(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let cap = p.creds.capable(cap::SETGID);
    p.creds.gid.set(id(a[0]), cap)?;
    Ok(0)
}

pub fn sys_setregid(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let cap = p.creds.capable(cap::SETGID);
    p.creds.gid.set_re(id(a[0]), id(a[1]), cap)?;
    Ok(0)
}

pub fn sys_setresgid(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let cap = p.creds.capable(cap::SETGID);
    p.creds.gid.set_res(id(a[0]), id(a[1]), id(a[2]), cap)?;
    Ok(0)
}

pub fn sys_setfsgid(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let cap = p.creds.capable(cap::SETGID);
    Ok(p.creds.gid.set_fs(id(a[0]), cap) as u64)
}

/// getgroups(2): the count when `size` is 0, EINVAL when it is smaller than the list.
pub fn sys_getgroups(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let size = a[0] as i32;
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    let n = p.creds.groups.len();
    if size == 0 {
        return Ok(n as u64);
    }
    if (size as usize) < n {
        return Err(Errno::EINVAL);
    }
    let bytes: Vec<u8> = p
        .creds
        .groups
        .iter()
        .flat_map(|g| g.to_le_bytes())
        .collect();
    k.write_user(p, a[1], &bytes)?;
    Ok(n as u64)
}

/// setgroups(2): CAP_SETGID only; at most NGROUPS_MAX groups.
pub fn sys_setgroups(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let size = a[0] as i32;
    if size < 0 || size as usize > NGROUPS_MAX {
        return Err(Errno::EINVAL);
    }
    if !p.creds.capable(cap::SETGID) {
        return Err(Errno::EPERM);
    }
    let raw = k.read_user(p, a[1], size as usize * 4)?;
    let mut groups: Vec<u32> = raw
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    groups.sort_unstable();
    groups.dedup();
    p.creds.groups = groups;
    Ok(0)
}

/// The capability header's versions (include/uapi/linux/capability.h): version 1 has one
/// 32-bit word per set, 2 (deprecated) and 3 two.
const CAP_VERSION_1: u32 = 0x1998_0330;
const CAP_VERSION_2: u32 = 0x2007_1026;
const CAP_VERSION_3: u32 = 0x2008_0522;

/// cap_validate_magic(): the header's version and pid, and how many words per set the
/// data holds. Linux writes the version it prefers back into a header it does not know
/// and fails with EINVAL.
fn cap_header(k: &mut Kernel, p: &Process, addr: u64) -> Result<(usize, i32), Errno> {
    let hdr = k.read_user(p, addr, 8)?;
    let version = u32::from_le_bytes(hdr[0..4].try_into().unwrap());
    let pid = i32::from_le_bytes(hdr[4..8].try_into().unwrap());
    match version {
        CAP_VERSION_1 => Ok((1, pid)),
        CAP_VERSION_2 | CAP_VERSION_3 => Ok((2, pid)),
        _ => {
            k.write_user(p, addr, &CAP_VERSION_3.to_le_bytes())?;
            Err(Errno::EINVAL)
        }
    }
}

/// capget(2): the effective, permitted and inheritable sets of a process (pid 0: the
/// caller), as `words` __user_cap_data_struct (low 32 bits first). A null data pointer
/// only probes the version: 0 even for an unknown one (which is still written back).
pub fn sys_capget(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (words, pid) = match cap_header(k, p, a[0]) {
        Err(Errno::EINVAL) if a[1] == 0 => return Ok(0),
        r => r?,
    };
    if a[1] == 0 {
        return Ok(0);
    }
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    // Credentials are per process here (Linux's are per thread).
    let caps = if pid == 0 || pid == p.pid || p.threads.iter().any(|t| t.tid == pid) {
        p.creds.caps
    } else {
        k.procs.get(&pid).ok_or(Errno::ESRCH)?.creds.caps
    };
    let mut b = Vec::with_capacity(24);
    for w in 0..words {
        for set in [caps.eff, caps.prm, caps.inh] {
            b.extend(((set >> (32 * w)) as u32).to_le_bytes());
        }
    }
    k.write_user(p, a[1], &b)?;
    Ok(0)
}

/// capset(2): the caller's own sets only (EPERM for another pid), under the rules of
/// Creds::capset. Version 1 data leaves the upper 32 capabilities cleared.
pub fn sys_capset(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (words, pid) = cap_header(k, p, a[0])?;
    if pid != 0 && pid != p.tid() {
        return Err(Errno::EPERM);
    }
    let raw = k.read_user(p, a[1], words * 12)?;
    let word = |i: usize| u32::from_le_bytes(raw[i * 4..i * 4 + 4].try_into().unwrap()) as u64;
    let mut sets = [0u64; 3];
    for w in 0..words {
        for (i, set) in sets.iter_mut().enumerate() {
            *set |= word(w * 3 + i) << (32 * w);
        }
    }
    let [eff, prm, inh] = sets;
    p.creds.capset(eff, prm, inh)?;
    Ok(0)
}

/// prctl(2): the options about credentials (keep capabilities, no new privileges, the
/// capability bounding set, dumpable), thread names, the parent-death signal, the child
/// subreaper, and the ones that are only recorded (timer slack, machine-check policy,
/// transparent huge pages, perf events: none of them has anything to act on here);
/// other options are EINVAL.
pub fn sys_prctl(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    const PR_SET_PDEATHSIG: u64 = 1;
    const PR_GET_PDEATHSIG: u64 = 2;
    const PR_GET_DUMPABLE: u64 = 3;
    const PR_SET_DUMPABLE: u64 = 4;
    const PR_GET_KEEPCAPS: u64 = 7;
    const PR_SET_KEEPCAPS: u64 = 8;
    const PR_SET_NAME: u64 = 15;
    const PR_GET_NAME: u64 = 16;
    const PR_CAPBSET_READ: u64 = 23;
    const PR_CAPBSET_DROP: u64 = 24;
    const PR_GET_SECUREBITS: u64 = 27;
    const PR_SET_SECUREBITS: u64 = 28;
    const PR_SET_NO_NEW_PRIVS: u64 = 38;
    const PR_GET_NO_NEW_PRIVS: u64 = 39;
    const PR_CAP_AMBIENT: u64 = 47;
    const PR_SET_TIMERSLACK: u64 = 29;
    const PR_GET_TIMERSLACK: u64 = 30;
    const PR_TASK_PERF_EVENTS_DISABLE: u64 = 31;
    const PR_TASK_PERF_EVENTS_ENABLE: u64 = 32;
    const PR_MCE_KILL: u64 = 33;
    const PR_MCE_KILL_GET: u64 = 34;
    const PR_SET_CHILD_SUBREAPER: u64 = 36;
    const PR_GET_CHILD_SUBREAPER: u64 = 37;
    const PR_SET_THP_DISABLE: u64 = 41;
    const PR_GET_THP_DISABLE: u64 = 42;
    let valid = |c: u64| c <= cap::LAST as u64;
    match a[0] {
        PR_SET_PDEATHSIG if a[1] <= crate::signal::NSIG as u64 => {
            p.pdeath_sig = a[1] as u8;
            Ok(0)
        }
        PR_GET_PDEATHSIG => {
            k.write_user(p, a[1], &(p.pdeath_sig as i32).to_le_bytes())?;
            Ok(0)
        }
        PR_GET_DUMPABLE => Ok(p.dumpable as u64),
        // SUID_DUMP_USER (1) or SUID_DUMP_DISABLE (0); 2 is for the kernel only.
        PR_SET_DUMPABLE if a[1] <= 1 => {
            p.dumpable = a[1] == 1;
            Ok(0)
        }
        PR_GET_KEEPCAPS => Ok(p.creds.keep_caps() as u64),
        PR_SET_KEEPCAPS if a[1] <= 1 => {
            if p.creds.securebits & (secbit::KEEP_CAPS << 1) != 0 {
                return Err(Errno::EPERM);
            }
            p.creds.securebits &= !secbit::KEEP_CAPS;
            if a[1] == 1 {
                p.creds.securebits |= secbit::KEEP_CAPS;
            }
            Ok(0)
        }
        PR_CAPBSET_READ if valid(a[1]) => Ok((p.creds.caps.bnd >> a[1]) & 1),
        // cap_prctl_drop(): CAP_SETPCAP before the capability's validity.
        PR_CAPBSET_DROP => {
            if !p.creds.capable(cap::SETPCAP) {
                return Err(Errno::EPERM);
            }
            if !valid(a[1]) {
                return Err(Errno::EINVAL);
            }
            p.creds.caps.bnd &= !cap::bit(a[1] as u32);
            Ok(0)
        }
        PR_GET_SECUREBITS => Ok(p.creds.securebits as u64),
        // A locked bit may not change nor be unlocked; unknown bits and no CAP_SETPCAP
        // are EPERM too (cap_task_prctl).
        PR_SET_SECUREBITS => {
            let old = p.creds.securebits as u64;
            let locks = old & secbit::ALL_LOCKS as u64;
            if (locks >> 1) & (old ^ a[1]) != 0
                || locks & !a[1] != 0
                || a[1] & !((secbit::ALL_BITS | secbit::ALL_LOCKS) as u64) != 0
                || !p.creds.capable(cap::SETPCAP)
            {
                return Err(Errno::EPERM);
            }
            p.creds.securebits = a[1] as u32;
            Ok(0)
        }
        PR_CAP_AMBIENT => cap_ambient(p, a),
        PR_SET_NO_NEW_PRIVS if a[1] == 1 && a[2..5] == [0, 0, 0] => {
            p.creds.no_new_privs = true;
            Ok(0)
        }
        PR_GET_NO_NEW_PRIVS if a[1..5] == [0, 0, 0, 0] => Ok(p.creds.no_new_privs as u64),
        // The calling thread's name (comm, TASK_COMM_LEN 16 with its NUL): the process's
        // own for the thread-group leader (/proc/PID/comm, ps), the thread's otherwise.
        PR_SET_NAME => {
            let name = k
                .guest(p.space, |m| m.read_cstr(p.space, a[1], 15))
                .map_err(|_| Errno::EFAULT)?;
            let tid = p.tid();
            p.set_name(tid, &name)?;
            Ok(0)
        }
        PR_GET_NAME => {
            let mut name = p.thread_name().to_vec();
            name.resize(16, 0);
            k.write_user(p, a[1], &name)?;
            Ok(0)
        }
        PR_SET_CHILD_SUBREAPER => {
            p.child_subreaper = a[1] != 0;
            Ok(0)
        }
        PR_GET_CHILD_SUBREAPER => {
            k.write_user(p, a[1], &(p.child_subreaper as i32).to_le_bytes())?;
            Ok(0)
        }
        // 0 restores the default (the thread's default slack, 50 us here).
        PR_SET_TIMERSLACK => {
            p.timer_slack = if a[1] == 0 {
                crate::process::DEFAULT_TIMER_SLACK
            } else {
                a[1]
            };
            Ok(0)
        }
        PR_GET_TIMERSLACK => Ok(p.timer_slack),
        // No perf event is ever counting here, so there is nothing to pause or resume.
        PR_TASK_PERF_EVENTS_DISABLE | PR_TASK_PERF_EVENTS_ENABLE => Ok(0),
        // PR_MCE_KILL_CLEAR (0) or PR_MCE_KILL_SET (1) with PR_MCE_KILL_LATE (0),
        // PR_MCE_KILL_EARLY (1) or PR_MCE_KILL_DEFAULT (2); the rest must be 0.
        PR_MCE_KILL if a[3] == 0 && a[4] == 0 => match (a[1], a[2]) {
            (0, 0) => {
                p.mce_kill = crate::process::PR_MCE_KILL_DEFAULT;
                Ok(0)
            }
            (1, policy @ 0..=2) => {
                p.mce_kill = policy as u8;
                Ok(0)
            }
            _ => Err(Errno::EINVAL),
        },
        PR_MCE_KILL_GET if a[1..5] == [0, 0, 0, 0] => Ok(p.mce_kill as u64),
        PR_SET_THP_DISABLE if a[2..5] == [0, 0, 0] => {
            p.thp_disable = a[1] != 0;
            Ok(0)
        }
        PR_GET_THP_DISABLE if a[1..5] == [0, 0, 0, 0] => Ok(p.thp_disable as u64),
        PR_SET_KEEPCAPS | PR_CAPBSET_READ | PR_SET_NO_NEW_PRIVS | PR_GET_NO_NEW_PRIVS
        | PR_SET_PDEATHSIG | PR_SET_DUMPABLE | PR_MCE_KILL | PR_MCE_KILL_GET
        | PR_SET_THP_DISABLE | PR_GET_THP_DISABLE => Err(Errno::EINVAL),
        option => {
            if k.trace {
                k.report(&format!("prctl option {option} is not supported (EINVAL)"));
            }
            Err(Errno::EINVAL)
        }
    }
}

/// prctl(PR_CAP_AMBIENT, op, cap, 0, 0): the ambient set, whose members must be both
/// permitted and inheritable (and SECBIT_NO_CAP_AMBIENT_RAISE unset) to be raised.
fn cap_ambient(p: &mut Process, a: Args) -> SysResult {
    const IS_SET: u64 = 1;
    const RAISE: u64 = 2;
    const LOWER: u64 = 3;
    const CLEAR_ALL: u64 = 4;
    let c = &mut p.creds;
    if a[1] == CLEAR_ALL {
        if a[2] | a[3] | a[4] != 0 {
            return Err(Errno::EINVAL);
        }
        c.caps.amb = 0;
        return Ok(0);
    }
    if a[2] > cap::LAST as u64 || a[3] | a[4] != 0 {
        return Err(Errno::EINVAL);
    }
    let bit = cap::bit(a[2] as u32);
    match a[1] {
        IS_SET => Ok((c.caps.amb & bit != 0) as u64),
        RAISE => {
            if c.caps.prm & bit == 0
                || c.caps.inh & bit == 0
                || c.securebits & secbit::NO_CAP_AMBIENT_RAISE != 0
            {
                return Err(Errno::EPERM);
            }
            c.caps.amb |= bit;
            Ok(0)
        }
        LOWER => {
            c.caps.amb &= !bit;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}
