//! What pipes and FIFOs do beyond a byte buffer (pipe(7), fifo(7)): opening a FIFO by
//! path, which waits for the other end; writes that block until all of the data is in;
//! and the readiness poll, ppoll, pselect6 and epoll report for an end.
//!
//! Both blocking cases are retried from scratch like every parked syscall (sched.rs), so
//! what must survive a retry is kept aside: a waiting FIFO open keeps its (counted) end in
//! `Kernel::fifos`, a blocking write the bytes it has put in so far in `Restart::done`.

use friscy_abi::Errno;
use friscy_vfs::Ino;

use super::SysResult;
use super::fs::{O_ACCMODE, O_NONBLOCK, O_WRONLY};
use super::poll::{POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM};
use crate::fd::{FileKind, FileRef};
use crate::pipe::{FifoWait, PIPE_BUF, PipeEnd};
use crate::process::{Restart, Wake};
use crate::{Kernel, Process};

const O_RDWR: u32 = 2;
/// The most one read or write moves (Linux's MAX_RW_COUNT).
const MAX_RW_COUNT: u64 = 0x7fff_f000;

/// open(2) of the FIFO `ino` (fifo_open in Linux's fs/pipe.c). O_RDONLY waits until a
/// writer opens, O_WRONLY until a reader does, unless O_NONBLOCK (then a writer without
/// a reader fails with ENXIO); O_RDWR never waits.
pub(crate) fn open_fifo(
    k: &mut Kernel,
    p: &mut Process,
    ino: Ino,
    flags: u32,
) -> Result<FileKind, Errno> {
    let tid = p.tid();
    // A retry of an open that parked: done once the partner's count has moved. An entry
    // from a call that did not finish is dropped (cannot happen while every way out of a
    // parked call abandons it, but a stale end must never count).
    if let Some(w) = k.fifos.waiting.remove(&tid)
        && p.thread().restart.is_some()
        && w.ino == ino
    {
        let now = {
            let pipe = w.end.pipe.borrow();
            if w.end.write {
                pipe.r_counter
            } else {
                pipe.w_counter
            }
        };
        if now != w.partner_count {
            return Ok(FileKind::Pipe(w.end));
        }
        k.fifos.waiting.insert(tid, w);
        k.park(p, Wake::Event, None, true)?;
        return Err(Errno::ERESTARTSYS);
    }
    let pipe = k.fifos.pipe(ino, &mut k.next_pipe_id);
    let nonblock = flags & O_NONBLOCK != 0;
    let (read, write) = match flags & O_ACCMODE {
        0 => (true, false),
        O_WRONLY => {
            if nonblock && pipe.borrow().readers == 0 {
                return Err(Errno::ENXIO);
            }
            (false, true)
        }
        O_RDWR => (true, true),
        _ => return Err(Errno::EINVAL),
    };
    let mut end = PipeEnd::new(pipe.clone(), read, write);
    end.fifo = Some(ino);
    let mut pp = pipe.borrow_mut();
    pp.r_counter += read as u64;
    pp.w_counter += write as u64;
    let partner_count = match (read, write) {
        (true, false) if pp.writers == 0 => {
            if nonblock {
                end.hup_after = Some(pp.w_counter);
                None
            } else {
                Some(pp.w_counter)
            }
        }
        (false, true) if pp.readers == 0 => Some(pp.r_counter),
        _ => None,
    };
    drop(pp);
    let Some(partner_count) = partner_count else {
        return Ok(FileKind::Pipe(end));
    };
    k.fifos.waiting.insert(
        tid,
        FifoWait {
            ino,
            end,
            partner_count,
        },
    );
    // Our end now counts: an opener of the other end parked before us may go on.
    k.progress += 1;
    k.park(p, Wake::Event, None, true)?;
    Err(Errno::ERESTARTSYS)
}

/// write(2) and writev(2) on a pipe's write end, with the data at `segs` (address, length).
/// Writes of at most PIPE_BUF bytes go in whole or not at all. A larger blocking write
/// puts in what fits and parks until the rest fits, returning only when all of it is in
/// (or with the count so far on a signal, see `setup_frame`, or when the readers go); a
/// non-blocking one returns what fit, or EAGAIN. Only the bytes that fit are copied in,
/// so a parked writer's retries cost nothing.
pub(crate) fn pipe_write(
    k: &mut Kernel,
    p: &mut Process,
    file: &FileRef,
    segs: &[(u64, u64)],
) -> SysResult {
    let total = segs
        .iter()
        .fold(0u64, |t, &(_, len)| t.saturating_add(len))
        .min(MAX_RW_COUNT);
    let done = p.thread().restart.map_or(0, |r| r.done);
    let f = file.borrow();
    let FileKind::Pipe(end) = &f.kind else {
        return Err(Errno::EBADF);
    };
    let nonblock = f.flags & O_NONBLOCK != 0;
    let (readers, space) = {
        let pipe = end.pipe.borrow();
        (pipe.readers, pipe.space() as u64)
    };
    if readers == 0 {
        p.thread_mut().pending |= crate::signal::bit(crate::signal::SIGPIPE);
        return if done > 0 {
            Ok(done)
        } else {
            Err(Errno::EPIPE)
        };
    }
    if total == 0 {
        return Ok(0);
    }
    let remaining = total - done;
    let n = if total <= PIPE_BUF as u64 && space < total {
        0
    } else {
        remaining.min(space)
    };
    if n > 0 {
        // Straight from guest memory into the ring's free space.
        let mut pipe = end.pipe.borrow_mut();
        let (a, b) = pipe.buf.spare();
        let first = (n as usize).min(a.len());
        let copied = gather_into(k, p, segs, done, &mut a[..first]).and_then(|()| {
            gather_into(
                k,
                p,
                segs,
                done + first as u64,
                &mut b[..n as usize - first],
            )
        });
        match copied {
            Ok(()) => pipe.buf.commit(n as usize),
            Err(e) if done == 0 => return Err(e),
            Err(_) => return Ok(done),
        }
        // Readers parked on this pipe may go on even if this call parks again.
        k.progress += 1;
    }
    let done = done + n;
    if done == total || (nonblock && done > 0) {
        return Ok(done);
    }
    if nonblock {
        return Err(Errno::EAGAIN);
    }
    drop(f);
    let r = k.park(p, Wake::Event, None, true);
    p.thread_mut()
        .restart
        .get_or_insert_with(Restart::default)
        .done = done;
    r
}

/// read(2) of a pipe's read end into guest memory at `buf`: what is there, up to `len`
/// (EAGAIN when empty with writers left, 0 at end of file). The bytes leave the pipe only
/// once they are in guest memory, so a bad buffer (EFAULT) loses nothing, as in Linux.
pub(crate) fn pipe_read(
    k: &mut Kernel,
    p: &Process,
    end: &PipeEnd,
    buf: u64,
    len: u64,
) -> SysResult {
    let mut pipe = end.pipe.borrow_mut();
    if pipe.buf.is_empty() {
        return if pipe.writers == 0 {
            Ok(0)
        } else {
            Err(Errno::EAGAIN)
        };
    }
    let n = (len.min(MAX_RW_COUNT) as usize).min(pipe.buf.len());
    let (a, b) = pipe.buf.as_slices();
    let (first, second) = if n <= a.len() {
        (&a[..n], &b[..0])
    } else {
        (a, &b[..n - a.len()])
    };
    k.write_user(p, buf, first)?;
    if !second.is_empty() {
        k.write_user(p, buf + first.len() as u64, second)?;
    }
    pipe.buf.consume(n);
    Ok(n as u64)
}

/// Fill `dst` with the data at `segs`, starting `skip` bytes in (EFAULT if any of it is
/// not readable by the guest).
fn gather_into(
    k: &mut Kernel,
    p: &Process,
    segs: &[(u64, u64)],
    mut skip: u64,
    dst: &mut [u8],
) -> Result<(), Errno> {
    let mut at = 0;
    for &(base, seg_len) in segs {
        if at == dst.len() {
            break;
        }
        if skip >= seg_len {
            skip -= seg_len;
            continue;
        }
        let take = ((seg_len - skip) as usize).min(dst.len() - at);
        k.guest(p.space, |m| {
            m.read(p.space, base + skip, &mut dst[at..at + take])
        })
        .map_err(|_| Errno::EFAULT)?;
        at += take;
        skip = 0;
    }
    Ok(())
}

/// `len` bytes of the data at `segs`, starting `skip` bytes in.
pub(super) fn gather(
    k: &mut Kernel,
    p: &Process,
    segs: &[(u64, u64)],
    mut skip: u64,
    len: usize,
) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::with_capacity(len);
    for &(base, seg_len) in segs {
        if out.len() == len {
            break;
        }
        if skip >= seg_len {
            skip -= seg_len;
            continue;
        }
        let take = (seg_len - skip).min((len - out.len()) as u64);
        out.extend(k.read_user(p, base + skip, take as usize)?);
        skip = 0;
    }
    Ok(out)
}

/// The poll(2) events of a pipe end (pipe_poll).
pub(crate) fn pipe_events(end: &PipeEnd) -> u16 {
    let pipe = end.pipe.borrow();
    let mut ev = 0;
    if end.read {
        if !pipe.buf.is_empty() {
            ev |= POLLIN | POLLRDNORM;
        }
        if pipe.writers == 0 && end.hup_after != Some(pipe.w_counter) {
            ev |= POLLHUP;
        }
    }
    if end.write {
        // Room for an atomic write (Linux: a free buffer slot).
        if pipe.space() >= PIPE_BUF {
            ev |= POLLOUT | POLLWRNORM;
        }
        if pipe.readers == 0 {
            ev |= POLLERR;
        }
    }
    ev
}
