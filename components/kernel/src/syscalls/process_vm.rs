//! process_vm_readv(2) and process_vm_writev(2): copies between the caller's memory and
//! another process's (profilers such as py-spy and rbspy, debuggers, Node's inspector
//! helpers). The other process must be one the caller may ptrace: the same user and group
//! in every id, or CAP_SYS_PTRACE (ptrace_may_access's PTRACE_MODE_ATTACH_REALCREDS).

use friscy_abi::Errno;

use super::{Args, SysResult};
use crate::process::Pid;
use crate::{Kernel, Process};

/// UIO_MAXIOV: the most iovecs either side may list.
const UIO_MAXIOV: u64 = 1024;

pub fn sys_process_vm_readv(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    copy(k, p, a, false)
}

pub fn sys_process_vm_writev(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    copy(k, p, a, true)
}

/// (pid, local_iov, liovcnt, remote_iov, riovcnt, flags). The bytes go in order across
/// both lists; a fault on the remote side ends the copy with what was done (EFAULT if
/// nothing), one on the local side is EFAULT.
fn copy(k: &mut Kernel, p: &mut Process, a: Args, write: bool) -> SysResult {
    let (pid, liov, lcnt, riov, rcnt, flags) = (a[0] as i32, a[1], a[2], a[3], a[4], a[5]);
    if flags != 0 || lcnt > UIO_MAXIOV || rcnt > UIO_MAXIOV {
        return Err(Errno::EINVAL);
    }
    let local = k.read_iovecs(p, liov, lcnt)?;
    let remote = k.read_iovecs(p, riov, rcnt)?;
    let (space, allowed) = if pid <= 0 {
        return Err(Errno::ESRCH);
    } else if pid as Pid == p.pid {
        (p.space, true)
    } else {
        let t = k.procs.get(&(pid as Pid)).ok_or(Errno::ESRCH)?;
        if t.is_zombie() {
            return Err(Errno::ESRCH);
        }
        let (me, them) = (&p.creds, &t.creds);
        let same = [them.uid.real, them.uid.eff, them.uid.saved]
            .iter()
            .all(|&id| id == me.uid.real)
            && [them.gid.real, them.gid.eff, them.gid.saved]
                .iter()
                .all(|&id| id == me.gid.real);
        (
            t.space,
            (same && t.dumpable) || me.capable(crate::creds::cap::SYS_PTRACE),
        )
    };
    if !allowed {
        return Err(Errno::EPERM);
    }
    let total: u64 = local.iter().map(|&(_, l)| l).sum();
    let want: u64 = remote.iter().map(|&(_, l)| l).sum::<u64>().min(total);
    // The remote side, piece by piece, until a fault.
    let mut data = Vec::new();
    let mut done = 0u64;
    if write {
        data = gather(k, p, &local, want)?;
    }
    for &(base, len) in &remote {
        if done >= want {
            break;
        }
        let n = len.min(want - done);
        let at = done as usize;
        let r = if write {
            k.guest(space, |m| m.write(space, base, &data[at..at + n as usize]))
        } else {
            let mut buf = vec![0; n as usize];
            k.guest(space, |m| m.read(space, base, &mut buf))
                .map(|_| data.extend_from_slice(&buf))
        };
        if r.is_err() {
            break;
        }
        done += n;
    }
    if done == 0 && want > 0 {
        return Err(Errno::EFAULT);
    }
    if !write {
        scatter(k, p, &local, &data)?;
    }
    Ok(done)
}

/// The caller's bytes from its iovecs, up to `want`.
fn gather(k: &mut Kernel, p: &Process, iov: &[(u64, u64)], want: u64) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    for &(base, len) in iov {
        let n = len.min(want - out.len() as u64);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&k.read_user(p, base, n as usize)?);
    }
    Ok(out)
}

/// `data` into the caller's iovecs.
fn scatter(k: &mut Kernel, p: &Process, iov: &[(u64, u64)], data: &[u8]) -> Result<(), Errno> {
    let mut at = 0;
    for &(base, len) in iov {
        if at >= data.len() {
            break;
        }
        let n = (len as usize).min(data.len() - at);
        k.write_user(p, base, &data[at..at + n])?;
        at += n;
    }
    Ok(())
}
