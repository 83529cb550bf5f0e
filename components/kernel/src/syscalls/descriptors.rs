//! close_range(2): closing or marking close-on-exec a range of descriptors.

use friscy_abi::Errno;

use super::{Args, SysResult};
use crate::{Kernel, Process};

const CLOSE_RANGE_UNSHARE: u64 = 1 << 1;
const CLOSE_RANGE_CLOEXEC: u64 = 1 << 2;

pub fn sys_close_range(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (first, last, flags) = (a[0] as u32, a[1] as u32, a[2]);
    if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
        return Err(Errno::EINVAL);
    }
    // Descriptors are i32s below NOFILE_MAX; a range past that touches nothing more.
    let (first, last) = (
        first.min(i32::MAX as u32) as i32,
        last.min(i32::MAX as u32) as i32,
    );
    let fds: Vec<i32> = p
        .fds
        .iter()
        .map(|(fd, _)| fd)
        .filter(|fd| (first..=last).contains(fd))
        .collect();
    // UNSHARE: the table is this process's own already (no CLONE_FILES sharing here).
    for fd in fds {
        if flags & CLOSE_RANGE_CLOEXEC != 0 {
            p.fds.get_mut(fd)?.cloexec = true;
        } else {
            let entry = p.fds.remove(fd)?;
            k.locks.closed(p.pid, &entry.file);
        }
    }
    Ok(0)
}
