//! sync, syncfs, fsync, fdatasync: the filesystem lives in memory, so everything written
//! is already as durable as it gets, except where the host keeps the writable layer
//! between runs (a browser page): sync and syncfs save it now (persist.rs). What remains
//! are the descriptor checks.

use friscy_abi::Errno;

use super::fs::fd_arg;
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
