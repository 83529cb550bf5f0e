//! Positioned vector I/O: preadv, pwritev, preadv2, pwritev2. They reuse the read/write
//! paths of fs.rs, so a device, the host's streams and /proc files behave here as they do
//! under read(2) and write(2); preadv2/pwritev2 at offset -1 are readv/writev, blocking
//! rules included. (In-kernel copies are in splice.rs.)

use friscy_abi::Errno;

use super::fs::{O_APPEND, O_NONBLOCK, fd_arg};
use super::{Args, SysResult};
use crate::fd::{FileKind, FileRef};
use crate::{Kernel, Process};

/// preadv2/pwritev2 flags (include/uapi/linux/fs.h).
const RWF_HIPRI: u64 = 0x01;
const RWF_DSYNC: u64 = 0x02;
const RWF_SYNC: u64 = 0x04;
const RWF_NOWAIT: u64 = 0x08;
const RWF_APPEND: u64 = 0x10;

/// Whether a descriptor can be read or written at an offset (ESPIPE otherwise).
fn seekable(file: &FileRef) -> bool {
    matches!(
        file.borrow().kind,
        FileKind::Inode(_) | FileKind::Proc(_) | FileKind::Device(_)
    )
}

fn preadv(k: &mut Kernel, p: &Process, fd: i32, iov: u64, cnt: u64, at: Option<u64>) -> SysResult {
    let iovecs = k.read_iovecs(p, iov, cnt)?;
    let file = p.fds.file(fd)?;
    if at.is_some() && !seekable(&file) {
        return Err(Errno::ESPIPE);
    }
    let mut total = 0;
    for (base, len) in iovecs {
        if len == 0 {
            continue;
        }
        let n = k.do_read(p, fd, base, len, at.map(|o| o + total))?;
        total += n;
        if n < len {
            break;
        }
    }
    Ok(total)
}

fn pwritev(k: &mut Kernel, p: &Process, fd: i32, iov: u64, cnt: u64, at: Option<u64>) -> SysResult {
    let iovecs = k.read_iovecs(p, iov, cnt)?;
    let file = p.fds.file(fd)?;
    if at.is_some() && !seekable(&file) {
        return Err(Errno::ESPIPE);
    }
    // pwritev(2) on Linux: with O_APPEND the data goes to the end whatever the offset.
    let at = match at {
        Some(_) if file.borrow().flags & O_APPEND != 0 => None,
        at => at,
    };
    k.write_segs(p, fd, &iovecs, at)
}

/// The offset argument of preadv/pwritev: on 64-bit it is all in the low word.
fn offset_arg(v: u64) -> Result<u64, Errno> {
    if (v as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(v)
}

pub fn sys_preadv(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    preadv(k, p, fd_arg(a[0]), a[1], a[2], Some(offset_arg(a[3])?))
}

pub fn sys_pwritev(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    pwritev(k, p, fd_arg(a[0]), a[1], a[2], Some(offset_arg(a[3])?))
}

/// preadv2/pwritev2: offset -1 means the file position; flags are hints, except
/// RWF_NOWAIT (our reads of files never block, so it changes nothing) and RWF_APPEND.
fn rwf_flags(flags: u64) -> Result<(), Errno> {
    let known = RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND;
    if flags & !known != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(())
}

fn offset2(v: u64) -> Result<Option<u64>, Errno> {
    match v as i64 {
        -1 => Ok(None),
        o if o < 0 => Err(Errno::EINVAL),
        o => Ok(Some(o as u64)),
    }
}

pub fn sys_preadv2(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    rwf_flags(a[5])?;
    match offset2(a[3])? {
        Some(at) => preadv(k, p, fd_arg(a[0]), a[1], a[2], Some(at)),
        None => nowait(k, p, a, super::fs::sys_readv),
    }
}

/// readv/writev for preadv2/pwritev2 at offset -1: RWF_NOWAIT makes this one call
/// non-blocking (EAGAIN where it would wait, as IOCB_NOWAIT does on pipes and sockets).
fn nowait(
    k: &mut Kernel,
    p: &mut Process,
    a: Args,
    call: fn(&mut Kernel, &mut Process, Args) -> SysResult,
) -> SysResult {
    let v = [a[0], a[1], a[2], 0, 0, 0];
    if a[5] & RWF_NOWAIT == 0 {
        return call(k, p, v);
    }
    let file = p.fds.file(fd_arg(a[0]))?;
    let old = file.borrow().flags;
    file.borrow_mut().flags |= O_NONBLOCK;
    let r = call(k, p, v);
    // One borrow: a `file.borrow()` temporary on the right would live through the
    // statement and the `borrow_mut` would panic (the syscalls fuzzer found it).
    let mut f = file.borrow_mut();
    f.flags = (f.flags & !O_NONBLOCK) | (old & O_NONBLOCK);
    drop(f);
    r
}

pub fn sys_pwritev2(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    rwf_flags(a[5])?;
    let at = if a[5] & RWF_APPEND != 0 {
        None
    } else {
        offset2(a[3])?
    };
    if at.is_none() && !seekable(&p.fds.file(fd_arg(a[0]))?) {
        // A pipe, socket or host stream: writev, with its own blocking rules.
        return nowait(k, p, a, super::fs::sys_writev);
    }
    if a[5] & RWF_APPEND != 0 {
        // Append this once, as if the file had O_APPEND (and keep its flags as they were).
        let file = p.fds.file(fd_arg(a[0]))?;
        let old = file.borrow().flags;
        file.borrow_mut().flags |= O_APPEND;
        let r = pwritev(k, p, fd_arg(a[0]), a[1], a[2], None);
        file.borrow_mut().flags = old;
        return r;
    }
    pwritev(k, p, fd_arg(a[0]), a[1], a[2], at)
}
