//! Process syscalls for a single process: exit, identity, limits, and the thread-library
//! handshakes (set_tid_address, set_robust_list).

use friscy_abi::Errno;

use super::{Args, SysResult};
use crate::{ExitStatus, Kernel, Process};

pub fn sys_exit(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    p.exit = Some(ExitStatus::Code(a[0] as u8));
    Ok(0)
}

pub fn sys_exit_group(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    sys_exit(k, p, a)
}

pub fn sys_set_tid_address(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    p.clear_child_tid = a[0];
    Ok(p.pid as u64)
}

pub fn sys_set_robust_list(_k: &mut Kernel, _p: &mut Process, a: Args) -> SysResult {
    // sizeof(struct robust_list_head) on 64-bit.
    if a[1] != 24 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

pub fn sys_getpid(_k: &mut Kernel, p: &mut Process, _a: Args) -> SysResult {
    Ok(p.pid as u64)
}

pub fn sys_getppid(_k: &mut Kernel, _p: &mut Process, _a: Args) -> SysResult {
    Ok(0)
}

/// getuid, geteuid, getgid, getegid: friscy runs the image's programs as root.
pub fn sys_getid(_k: &mut Kernel, _p: &mut Process, _a: Args) -> SysResult {
    Ok(0)
}

pub fn sys_sched_yield(_k: &mut Kernel, _p: &mut Process, _a: Args) -> SysResult {
    Ok(0)
}

const RLIM_INFINITY: u64 = u64::MAX;
const RLIMIT_NLIMITS: usize = 16;

/// The default (soft, hard) limits, as a fresh Linux login shell sees them.
fn default_limit(resource: usize) -> (u64, u64) {
    match resource {
        3 => (crate::mm::STACK_SIZE, RLIM_INFINITY), // RLIMIT_STACK
        4 => (0, RLIM_INFINITY),                     // RLIMIT_CORE
        7 => (crate::fd::NOFILE_MAX as u64, 4096),   // RLIMIT_NOFILE
        8 => (8 << 20, 8 << 20),                     // RLIMIT_MEMLOCK
        _ => (RLIM_INFINITY, RLIM_INFINITY),
    }
}

impl Kernel {
    fn limits(&self, p: &Process, resource: u64) -> Result<(u64, u64), Errno> {
        let r = resource as usize;
        if r >= RLIMIT_NLIMITS {
            return Err(Errno::EINVAL);
        }
        Ok(p.rlimits[r].unwrap_or_else(|| default_limit(r)))
    }

    fn set_limits(&mut self, p: &mut Process, resource: u64, new: (u64, u64)) -> Result<(), Errno> {
        let old = self.limits(p, resource)?;
        if new.0 > new.1 {
            return Err(Errno::EINVAL);
        }
        // Root may raise hard limits, except RLIMIT_NOFILE beyond the table's size.
        if resource == 7 && new.1 > old.1.max(crate::fd::NOFILE_MAX as u64) {
            return Err(Errno::EPERM);
        }
        p.rlimits[resource as usize] = Some(new);
        Ok(())
    }
}

pub fn sys_prlimit64(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (pid, resource, new, old) = (a[0] as i32, a[1], a[2], a[3]);
    if pid != 0 && pid != p.pid {
        return Err(Errno::ESRCH);
    }
    let current = k.limits(p, resource)?;
    if new != 0 {
        let soft = k.read_u64(p, new)?;
        let hard = k.read_u64(p, new + 8)?;
        k.set_limits(p, resource, (soft, hard))?;
    }
    if old != 0 {
        k.write_u64(p, old, current.0)?;
        k.write_u64(p, old + 8, current.1)?;
    }
    Ok(0)
}

pub fn sys_getrlimit(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    sys_prlimit64(k, p, [0, a[0], 0, a[1], 0, 0])
}

pub fn sys_setrlimit(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    sys_prlimit64(k, p, [0, a[0], a[1], 0, 0, 0])
}
