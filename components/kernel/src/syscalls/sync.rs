//! sync, syncfs, fsync, fdatasync, sync_file_range: the filesystem lives in memory, so everything written
//! is already as durable as it gets, except where the host keeps the writable layer
//! between runs (a browser page): sync and syncfs save it now (persist.rs). What remains
//! are the descriptor checks. Likewise the page-cache hints fadvise64 and readahead:
//! there is no disk to read ahead from, so they check their arguments as Linux does
//! (mm/fadvise.c, mm/readahead.c) and have nothing else to do.

use friscy_abi::Errno;

use super::fs::{O_ACCMODE, O_PATH, O_WRONLY, fd_arg};
use super::{Args, SysResult};
use crate::fd::FileKind;
use crate::{Kernel, Process};

pub fn sys_sync(k: &mut Kernel, _p: &mut Process, _a: Args) -> SysResult {
    k.save_layer();
    Ok(0)
}

pub fn sys_syncfs(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    p.fds.file(fd_arg(a[0]))?;
    k.save_layer();
    Ok(0)
}

/// fsync(2): EINVAL for a file that cannot be synced (a pipe; /proc files, whose
/// fsync is a no-op in Linux, succeed).
pub fn sys_fsync(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    match p.fds.file(fd_arg(a[0]))?.borrow().kind {
        FileKind::Stdio(_) | FileKind::Pipe(_) | FileKind::Tty(_) => Err(Errno::EINVAL),
        _ => Ok(0),
    }
}

pub fn sys_fdatasync(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    sys_fsync(k, p, a)
}

/// sync_file_range(2) (PostgreSQL's checkpointer asks it to start writeback): nothing to
/// write back here; EINVAL for unknown flags or a negative or overflowing range, EBADF,
/// then ESPIPE for what is not a regular file, directory or symlink (fs/sync.c).
pub fn sys_sync_file_range(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    // SYNC_FILE_RANGE_WAIT_BEFORE, SYNC_FILE_RANGE_WRITE, SYNC_FILE_RANGE_WAIT_AFTER.
    const VALID: u64 = 1 | 2 | 4;
    let (offset, nbytes, flags) = (a[1] as i64, a[2] as i64, a[3]);
    let end = offset.wrapping_add(nbytes);
    if flags & !VALID != 0 || offset < 0 || end < 0 || end < offset {
        return Err(Errno::EINVAL);
    }
    let file = p.fds.file(fd_arg(a[0]))?;
    match file.borrow().kind {
        FileKind::Inode(_) | FileKind::Proc(_) => Ok(0),
        _ => Err(Errno::ESPIPE),
    }
}

/// fadvise64(2) (posix_fadvise): ESPIPE on a pipe or FIFO, EINVAL for an unknown advice
/// or a negative length.
pub fn sys_fadvise64(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (len, advice) = (a[2] as i64, a[3]);
    let file = p.fds.file(fd_arg(a[0]))?;
    // An O_PATH descriptor is not one these calls take (fdget, not fdget_raw).
    if file.borrow().flags & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    if matches!(file.borrow().kind, FileKind::Pipe(_)) {
        return Err(Errno::ESPIPE);
    }
    // POSIX_FADV_NORMAL, RANDOM, SEQUENTIAL, WILLNEED, DONTNEED, NOREUSE.
    if advice > 5 || len < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// readahead(2): EBADF unless open for reading, EINVAL for what has no page cache (pipes,
/// sockets and the other special files).
pub fn sys_readahead(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let file = p.fds.file(fd_arg(a[0]))?;
    let file = file.borrow();
    if file.flags & O_ACCMODE == O_WRONLY || file.flags & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    match file.kind {
        FileKind::Inode(_) | FileKind::Device(_) | FileKind::Proc(_) => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}
