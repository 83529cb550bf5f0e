//! Process descriptors: pidfd_open, pidfd_send_signal and waitid(P_PIDFD) (kernel/pid.c,
//! kernel/signal.c). Python's asyncio watches its children this way when it can, systemd
//! and other supervisors too.
//!
//! A pidfd names a process by its pid, which friscy never reuses while the kernel runs, so
//! the descriptor holds just that. It polls readable once the process has exited (a
//! zombie, or reaped and gone, which adds POLLHUP), and reads and writes are EINVAL.

use friscy_abi::Errno;

use super::fs::{O_NONBLOCK, fd_arg};
use super::poll::{POLLHUP, POLLIN, POLLRDNORM};
use super::{Args, SysResult};
use crate::Kernel;
use crate::fd::{FileKind, install_anon};
use crate::process::{Pid, Process};
use crate::signal::{self, SigInfo};

/// pidfd_open(pid, flags): a descriptor for process `pid` (a thread-group leader), always
/// close-on-exec; PIDFD_NONBLOCK is O_NONBLOCK.
pub fn sys_pidfd_open(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (pid, flags) = (a[0] as i32, a[1] as u32);
    if flags & !O_NONBLOCK != 0 || pid <= 0 {
        return Err(Errno::EINVAL);
    }
    if pid != p.pid && !k.procs.contains_key(&pid) {
        // A thread of some process is not one (without PIDFD_THREAD): EINVAL.
        let thread = p.threads.iter().any(|t| t.tid == pid)
            || k.procs
                .values()
                .any(|q| q.threads.iter().any(|t| t.tid == pid));
        return Err(if thread { Errno::EINVAL } else { Errno::ESRCH });
    }
    Ok(install_anon(
        &mut p.fds,
        FileKind::PidFd(pid),
        "pidfd",
        flags & O_NONBLOCK,
        true,
    )? as u64)
}

/// The process a pidfd names (EBADF for a descriptor that is not one).
pub fn pid_of(p: &Process, fd: i32) -> Result<Pid, Errno> {
    match p.fds.file(fd)?.borrow().kind {
        FileKind::PidFd(pid) => Ok(pid),
        _ => Err(Errno::EBADF),
    }
}

/// The process pidfd_send_signal names: a pidfd, or a /proc/PID directory descriptor
/// (which Linux accepts there too).
fn signal_target(p: &Process, fd: i32) -> Result<Pid, Errno> {
    if let FileKind::Inode(ino) = p.fds.file(fd)?.borrow().kind
        && let Some(pid) = crate::procfs::pid_dir(ino)
    {
        return Ok(pid);
    }
    pid_of(p, fd)
}

/// poll(2) on a pidfd, as the caller `p` sees it.
pub fn events(k: &Kernel, p: &Process, pid: Pid) -> u16 {
    if pid == p.pid {
        return 0;
    }
    match k.procs.get(&pid) {
        None => POLLIN | POLLRDNORM | POLLHUP,
        Some(q) if q.is_zombie() => POLLIN | POLLRDNORM,
        Some(_) => 0,
    }
}

/// pidfd_send_signal(pidfd, sig, info, flags): kill(2) through a pidfd, with an optional
/// siginfo whose si_code must say it comes from user space when the target is another
/// process (EPERM otherwise, as rt_sigqueueinfo).
pub fn sys_pidfd_send_signal(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (fd, sig, info_addr, flags) = (fd_arg(a[0]), a[1], a[2], a[3]);
    if flags != 0 || sig > signal::NSIG as u64 {
        return Err(Errno::EINVAL);
    }
    let pid = signal_target(p, fd)?;
    let sig = sig as u8;
    let mut info = SigInfo {
        signo: sig,
        code: signal::SI_USER,
        pid: p.pid,
        ..SigInfo::default()
    };
    if info_addr != 0 {
        let b = k.read_user(p, info_addr, 16)?;
        let signo = i32::from_le_bytes(b[0..4].try_into().unwrap());
        let code = i32::from_le_bytes(b[8..12].try_into().unwrap());
        if signo != sig as i32 {
            return Err(Errno::EINVAL);
        }
        if (code >= 0 || code == signal::SI_TKILL) && pid != p.pid {
            return Err(Errno::EPERM);
        }
        info.code = code;
    }
    let target_creds = if pid == p.pid {
        None
    } else {
        match k.procs.get(&pid) {
            Some(q) if !q.is_zombie() => Some(q.creds.clone()),
            _ => return Err(Errno::ESRCH),
        }
    };
    if let Some(c) = target_creds
        && !p.creds.may_signal(&c)
    {
        return Err(Errno::EPERM);
    }
    if sig != 0 {
        k.signal_process(p, pid, sig, info);
    }
    Ok(0)
}
