//! signalfd4(2): signals read as descriptors (`script`, systemd, event loops that wait for
//! SIGCHLD or SIGTERM with poll or epoll).
//!
//! A signalfd holds a mask, nothing else: it is readable while one of those signals is
//! pending for the thread that looks (its own pending set or its process's), and a read
//! takes them off that pending set as `struct signalfd_siginfo` records, as
//! rt_sigtimedwait would (fs/signalfd.c). Programs block the signals first so that they
//! stay pending instead of being delivered.

use friscy_abi::Errno;

use super::fs::{O_CLOEXEC, O_NONBLOCK, fd_arg};
use super::poll::{POLLIN, POLLRDNORM};
use super::{Args, SysResult};
use crate::Kernel;
use crate::fd::{FileKind, OpenFile, Shared, install_anon};
use crate::process::{Process, Wake};
use crate::signal::{SigInfo, SigSet, UNBLOCKABLE};

/// `struct signalfd_siginfo`: 128 bytes per signal read.
const RECORD: usize = 128;

#[derive(Debug, Default)]
pub struct SignalFd {
    /// The signals it reports (SIGKILL and SIGSTOP never).
    pub mask: SigSet,
}

/// The signals of `mask` pending for the current thread of `p`.
fn pending(p: &Process, mask: SigSet) -> SigSet {
    (p.thread().pending | p.pending) & mask
}

/// The poll(2) events of a signalfd, as the thread `p` sees it.
pub fn events(p: &Process, s: &SignalFd) -> u16 {
    if pending(p, s.mask) != 0 {
        POLLIN | POLLRDNORM
    } else {
        0
    }
}

/// `struct signalfd_siginfo` for one dequeued signal (ssi_signo, ssi_errno, ssi_code,
/// ssi_pid, ssi_uid, ssi_fd, ssi_tid, ssi_band, ssi_overrun, ssi_trapno, ssi_status,
/// ssi_int, ssi_ptr, ssi_utime, ssi_stime, ssi_addr...).
fn record(si: &SigInfo) -> [u8; RECORD] {
    let mut b = [0; RECORD];
    b[0..4].copy_from_slice(&(si.signo as u32).to_le_bytes());
    b[8..12].copy_from_slice(&si.code.to_le_bytes());
    b[12..16].copy_from_slice(&(si.pid as u32).to_le_bytes());
    b[16..20].copy_from_slice(&si.uid.to_le_bytes());
    if let Some(q) = si.queued {
        // sigqueue's si_pid, si_uid and si_value as the sender gave them: ssi_int and
        // ssi_ptr are the value.
        b[12..20].copy_from_slice(&q[0..8]);
        b[44..48].copy_from_slice(&q[8..12]);
        b[48..56].copy_from_slice(&q[8..16]);
    }
    if si.signo == crate::signal::SIGCHLD {
        b[40..44].copy_from_slice(&si.status.to_le_bytes());
    }
    b[72..80].copy_from_slice(&si.addr.to_le_bytes());
    if let Some((id, overrun, value)) = si.timer {
        // ssi_tid is the timer's id; ssi_int and ssi_ptr its sigev_value.
        b[24..28].copy_from_slice(&id.to_le_bytes());
        b[32..36].copy_from_slice(&overrun.to_le_bytes());
        b[44..48].copy_from_slice(&(value as u32).to_le_bytes());
        b[48..56].copy_from_slice(&value.to_le_bytes());
    }
    b
}

/// read(2) and readv(2) on a signalfd: as many pending signals of its mask as whole
/// records fit in the buffers (EINVAL below one record), or, with none pending, EAGAIN or
/// a wait for one. Nothing is taken before the wait, so a restarted read loses nothing.
pub fn read(k: &mut Kernel, p: &mut Process, fd: i32, iov: &[(u64, u64)]) -> SysResult {
    let len = iov.iter().fold(0u64, |n, &(_, l)| n.saturating_add(l));
    let file = p.fds.file(fd)?;
    let (mask, nonblock) = {
        let f = file.borrow();
        let FileKind::SignalFd(s) = &f.kind else {
            unreachable!("read() sends only signalfds here")
        };
        (s.0.borrow().mask, f.flags & O_NONBLOCK != 0)
    };
    if (len as usize) < RECORD {
        return Err(Errno::EINVAL);
    }
    if pending(p, mask) == 0 {
        if nonblock {
            return Err(Errno::EAGAIN);
        }
        // Interrupted by a handled signal, the read restarts under SA_RESTART.
        return k.park(p, Wake::SigWait(mask), None, true);
    }
    let mut out = Vec::new();
    while out.len() + RECORD <= len as usize {
        let Some(si) = super::signal::take_pending(p, mask) else {
            break;
        };
        out.extend_from_slice(&record(&si));
    }
    // A fault writing the records would lose them, as on Linux (which copies each one
    // out after taking it).
    let mut rest = &out[..];
    for &(base, l) in iov {
        let n = rest.len().min(l as usize);
        k.write_user(p, base, &rest[..n])?;
        rest = &rest[n..];
    }
    Ok(out.len() as u64)
}

/// signalfd4(fd, mask, sizemask, flags): a new signalfd (`fd` -1), or a new mask for an
/// existing one.
pub fn sys_signalfd4(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (fd, mask_addr, size, flags) = (a[0] as i32, a[1], a[2], a[3] as u32);
    if size != 8 || flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let mask = k.read_u64(p, mask_addr)? & !UNBLOCKABLE;
    if fd != -1 {
        let file = p.fds.file(fd_arg(a[0]))?;
        return match &file.borrow().kind {
            FileKind::SignalFd(s) => {
                s.0.borrow_mut().mask = mask;
                Ok(fd as u64)
            }
            _ => Err(Errno::EINVAL),
        };
    }
    Ok(install_anon(
        &mut p.fds,
        FileKind::SignalFd(Shared(std::rc::Rc::new(std::cell::RefCell::new(
            SignalFd { mask },
        )))),
        "signalfd",
        flags & O_NONBLOCK,
        flags & O_CLOEXEC != 0,
    )? as u64)
}

/// Whether `f` is a signalfd (read goes to `read` above).
pub fn is_signalfd(f: &OpenFile) -> bool {
    matches!(f.kind, FileKind::SignalFd(_))
}
