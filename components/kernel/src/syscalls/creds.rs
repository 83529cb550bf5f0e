//! Credentials: the uid and gid getters and setters, the supplementary group list
//! (credentials(7)), capget and the credential options of prctl(2). The rules for who may change what live in creds.rs; here are the
//! arguments and the guest memory.

use friscy_abi::Errno;

use super::{Args, SysResult};
use crate::creds::NGROUPS_MAX;
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

pub fn sys_setuid(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let cap = p.creds.capable();
    p.creds.uid.set(id(a[0]), cap)?;
    Ok(0)
}

pub fn sys_setgid(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let cap = p.creds.capable();
    p.creds.gid.set(id(a[0]), cap)?;
    Ok(0)
}

pub fn sys_setreuid(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let cap = p.creds.capable();
    p.creds.uid.set_re(id(a[0]), id(a[1]), cap)?;
    Ok(0)
}

pub fn sys_setregid(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let cap = p.creds.capable();
    p.creds.gid.set_re(id(a[0]), id(a[1]), cap)?;
    Ok(0)
}

pub fn sys_setresuid(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let cap = p.creds.capable();
    p.creds.uid.set_res(id(a[0]), id(a[1]), id(a[2]), cap)?;
    Ok(0)
}

pub fn sys_setresgid(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let cap = p.creds.capable();
    p.creds.gid.set_res(id(a[0]), id(a[1]), id(a[2]), cap)?;
    Ok(0)
}

/// setfsuid(2): the previous filesystem uid, whether or not it changed.
pub fn sys_setfsuid(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let cap = p.creds.capable();
    Ok(p.creds.uid.set_fs(id(a[0]), cap) as u64)
}

pub fn sys_setfsgid(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let cap = p.creds.capable();
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

/// setgroups(2): CAP_SETGID (euid 0) only; at most NGROUPS_MAX groups.
pub fn sys_setgroups(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let size = a[0] as i32;
    if size < 0 || size as usize > NGROUPS_MAX {
        return Err(Errno::EINVAL);
    }
    if !p.creds.capable() {
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

/// capget(2): the capability sets of the calling process (pid 0 or its own), all
/// capabilities for euid 0 and none otherwise (creds.rs reduces capabilities to that).
pub fn sys_capget(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    const VERSION_3: u32 = 0x2008_0522;
    let hdr = k.read_user(p, a[0], 8)?;
    let version = u32::from_le_bytes(hdr[0..4].try_into().unwrap());
    let pid = i32::from_le_bytes(hdr[4..8].try_into().unwrap());
    if version != VERSION_3 {
        // Linux writes back the version it prefers and fails with EINVAL.
        k.write_user(p, a[0], &VERSION_3.to_le_bytes())?;
        return Err(Errno::EINVAL);
    }
    let creds = if pid == 0 || pid == p.pid {
        p.creds.clone()
    } else {
        match k.procs.get(&pid) {
            Some(q) => q.creds.clone(),
            None => return Err(Errno::ESRCH),
        }
    };
    if a[1] != 0 {
        // Two __user_cap_data_struct (effective, permitted, inheritable), low then high
        // 32 bits. CAP_LAST_CAP is 40 (CAP_CHECKPOINT_RESTORE).
        let (lo, hi) = if creds.capable() {
            (u32::MAX, (1u32 << 9) - 1)
        } else {
            (0, 0)
        };
        let mut b = Vec::with_capacity(24);
        for word in [lo, hi] {
            b.extend(word.to_le_bytes()); // effective
            b.extend(word.to_le_bytes()); // permitted
            b.extend(0u32.to_le_bytes()); // inheritable
        }
        k.write_user(p, a[1], &b)?;
    }
    Ok(0)
}

/// prctl(2): the options about credentials (keep capabilities, no new privileges, the
/// capability bounding set, dumpable), thread names and the parent-death signal; other
/// options are EINVAL.
pub fn sys_prctl(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    const PR_SET_PDEATHSIG: u64 = 1;
    const PR_GET_PDEATHSIG: u64 = 2;
    const PR_GET_DUMPABLE: u64 = 3;
    const PR_SET_DUMPABLE: u64 = 4;
    const PR_GET_KEEPCAPS: u64 = 7;
    const PR_SET_KEEPCAPS: u64 = 8;
    const PR_CAPBSET_READ: u64 = 23;
    const PR_CAPBSET_DROP: u64 = 24;
    const PR_SET_NAME: u64 = 15;
    const PR_GET_NAME: u64 = 16;
    const PR_SET_NO_NEW_PRIVS: u64 = 38;
    const PR_GET_NO_NEW_PRIVS: u64 = 39;
    /// CAP_LAST_CAP (CAP_CHECKPOINT_RESTORE).
    const CAP_LAST_CAP: u64 = 40;
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
        PR_GET_KEEPCAPS => Ok(p.creds.keep_caps as u64),
        PR_SET_KEEPCAPS if a[1] <= 1 => {
            p.creds.keep_caps = a[1] == 1;
            Ok(0)
        }
        // Every capability is in the bounding set; dropping one needs CAP_SETPCAP (root)
        // and changes nothing here, where root's power follows euid 0 alone.
        PR_CAPBSET_READ if a[1] <= CAP_LAST_CAP => Ok(1),
        PR_CAPBSET_DROP if a[1] <= CAP_LAST_CAP => match p.creds.capable() {
            true => Ok(0),
            false => Err(Errno::EPERM),
        },
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
        PR_SET_KEEPCAPS | PR_CAPBSET_READ | PR_CAPBSET_DROP | PR_SET_NO_NEW_PRIVS
        | PR_GET_NO_NEW_PRIVS | PR_SET_PDEATHSIG | PR_SET_DUMPABLE => Err(Errno::EINVAL),
        option => {
            if k.trace {
                k.report(&format!("prctl option {option} is not supported (EINVAL)"));
            }
            Err(Errno::EINVAL)
        }
    }
}
