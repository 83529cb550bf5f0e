//! Positioned vector I/O and in-kernel copies: preadv, pwritev, preadv2, pwritev2,
//! sendfile and copy_file_range. They reuse the read/write paths of fs.rs, so a device,
//! the host's streams and /proc files behave here as they do under read(2) and write(2).

use friscy_abi::Errno;
use friscy_abi::mode::*;

use super::fs::{IO_CHUNK, O_ACCMODE, O_APPEND, O_PATH, O_WRONLY, fd_arg};
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
    let mut data = Vec::new();
    for (base, len) in iovecs {
        data.extend(k.read_user(p, base, (len as usize).min(IO_CHUNK))?);
    }
    // pwritev(2) on Linux: with O_APPEND the data goes to the end whatever the offset.
    let at = match at {
        Some(_) if file.borrow().flags & O_APPEND != 0 => None,
        at => at,
    };
    k.do_write(p, fd, &data, at)
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
    preadv(k, p, fd_arg(a[0]), a[1], a[2], offset2(a[3])?)
}

pub fn sys_pwritev2(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    rwf_flags(a[5])?;
    let at = if a[5] & RWF_APPEND != 0 {
        None
    } else {
        offset2(a[3])?
    };
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

/// Check the two ends of a copy: `input` readable, `output` writable.
fn check_ends(input: &FileRef, output: &FileRef) -> Result<(), Errno> {
    let (i, o) = (input.borrow().flags, output.borrow().flags);
    if i & O_ACCMODE == O_WRONLY || i & O_PATH != 0 || o & O_ACCMODE == 0 || o & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    Ok(())
}

/// Move up to `count` bytes from `in_fd` (at `*in_off`, or its position) to `out_fd` (at
/// `out_off`, or its position). Stops at end of input or a short write.
fn copy(
    k: &mut Kernel,
    p: &Process,
    in_fd: i32,
    mut in_off: Option<u64>,
    out_fd: i32,
    mut out_off: Option<u64>,
    count: u64,
) -> Result<(u64, Option<u64>, Option<u64>), Errno> {
    let input = p.fds.file(in_fd)?;
    let mut done = 0u64;
    while done < count {
        let want = (count - done).min(IO_CHUNK as u64) as usize;
        let data = {
            let f = input.borrow();
            let at = in_off.unwrap_or(f.offset);
            k.file_read(&f, at, want)?
        };
        if data.is_empty() {
            break;
        }
        if in_off.is_none() {
            input.borrow_mut().offset += data.len() as u64;
        }
        let n = k.do_write(p, out_fd, &data, out_off)?;
        if let Some(o) = in_off.as_mut() {
            *o += n;
        }
        if let Some(o) = out_off.as_mut() {
            *o += n;
        }
        if in_off.is_none() && n < data.len() as u64 {
            // Give back what the output did not take.
            input.borrow_mut().offset -= data.len() as u64 - n;
        }
        done += n;
        if n < data.len() as u64 || data.len() < want {
            break;
        }
    }
    Ok((done, in_off, out_off))
}

pub fn sys_sendfile(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (out_fd, in_fd, off_ptr, count) = (fd_arg(a[0]), fd_arg(a[1]), a[2], a[3]);
    let (input, output) = (p.fds.file(in_fd)?, p.fds.file(out_fd)?);
    check_ends(&input, &output)?;
    // sendfile(2): EINVAL if out_fd is opened with O_APPEND or in_fd cannot be mmapped
    // (not a regular file here).
    if output.borrow().flags & O_APPEND != 0 {
        return Err(Errno::EINVAL);
    }
    if !matches!(input.borrow().kind, FileKind::Inode(_) | FileKind::Proc(_)) {
        return Err(Errno::EINVAL);
    }
    let in_off = if off_ptr != 0 {
        let off = k.read_u64(p, off_ptr)? as i64;
        if off < 0 {
            return Err(Errno::EINVAL);
        }
        Some(off as u64)
    } else {
        None
    };
    let count = count.min(0x7fff_f000); // MAX_RW_COUNT
    let (n, in_off, _) = copy(k, p, in_fd, in_off, out_fd, None, count)?;
    if let Some(off) = in_off {
        k.write_u64(p, off_ptr, off)?;
    }
    Ok(n)
}

pub fn sys_copy_file_range(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (in_fd, in_ptr, out_fd, out_ptr, len, flags) =
        (fd_arg(a[0]), a[1], fd_arg(a[2]), a[3], a[4], a[5]);
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let (input, output) = (p.fds.file(in_fd)?, p.fds.file(out_fd)?);
    check_ends(&input, &output)?;
    // copy_file_range(2): EBADF if fd_out is O_APPEND; both must be regular files
    // (EISDIR for a directory, EINVAL otherwise).
    if output.borrow().flags & O_APPEND != 0 {
        return Err(Errno::EBADF);
    }
    let mut inos = [0; 2];
    for (i, f) in [&input, &output].into_iter().enumerate() {
        let FileKind::Inode(ino) = f.borrow().kind else {
            return Err(Errno::EINVAL);
        };
        match k.stat_ino(p, ino)?.mode & S_IFMT {
            S_IFREG => inos[i] = ino,
            S_IFDIR => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        }
    }
    let read_off = |k: &mut Kernel, ptr: u64| -> Result<Option<u64>, Errno> {
        if ptr == 0 {
            return Ok(None);
        }
        let off = k.read_u64(p, ptr)? as i64;
        if off < 0 {
            return Err(Errno::EINVAL);
        }
        Ok(Some(off as u64))
    };
    let in_off = read_off(k, in_ptr)?;
    let out_off = read_off(k, out_ptr)?;
    // The same file with overlapping ranges is EINVAL.
    if inos[0] == inos[1] {
        let i = in_off.unwrap_or(input.borrow().offset);
        let o = out_off.unwrap_or(output.borrow().offset);
        if i < o.saturating_add(len) && o < i.saturating_add(len) {
            return Err(Errno::EINVAL);
        }
    }
    let len = len.min(0x7fff_f000);
    let (n, in_off, out_off) = copy(k, p, in_fd, in_off, out_fd, out_off, len)?;
    if let Some(off) = in_off {
        k.write_u64(p, in_ptr, off)?;
    }
    if let Some(off) = out_off {
        k.write_u64(p, out_ptr, off)?;
    }
    Ok(n)
}
