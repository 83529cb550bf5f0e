//! inotify_init1, inotify_add_watch, inotify_rm_watch: the descriptors of inotify(7).
//! The instances, watches and events are in inotify.rs; reading one is read(2) on the
//! descriptor (syscalls/fs.rs), waiting for one poll, epoll or a blocking read.

use friscy_abi::Errno;
use friscy_abi::mode::{S_IFDIR, S_IFMT};

use super::fs::{AT_FDCWD, O_CLOEXEC, O_NONBLOCK, fd_arg};
use super::{Args, SysResult};
use crate::creds::MAY_READ;
use crate::fd::{FileKind, Shared, install_anon};
use crate::inotify::{
    IN_ALL_EVENTS, IN_DONT_FOLLOW, IN_MASK_ADD, IN_MASK_CREATE, IN_ONLYDIR, InstanceRef,
};
use crate::{Kernel, Process};

/// inotify_init1(flags): IN_NONBLOCK and IN_CLOEXEC (O_NONBLOCK and O_CLOEXEC) only.
pub fn sys_inotify_init1(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let flags = a[0] as u32;
    if flags & !(O_NONBLOCK | O_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let inst = crate::inotify::Registry::new_instance(&k.inotify)?;
    Ok(install_anon(
        &mut p.fds,
        FileKind::Inotify(Shared(inst)),
        "inotify",
        flags & O_NONBLOCK,
        flags & O_CLOEXEC != 0,
    )? as u64)
}

/// The instance behind descriptor `fd`: EBADF for no descriptor, EINVAL for another kind.
fn instance(p: &Process, fd: u64) -> Result<InstanceRef, Errno> {
    match &p.fds.file(fd_arg(fd))?.borrow().kind {
        FileKind::Inotify(i) => Ok(i.0.clone()),
        _ => Err(Errno::EINVAL),
    }
}

/// inotify_add_watch(fd, path, mask): a watch on the file `path` names (its last symlink
/// followed unless IN_DONT_FOLLOW), which the caller must be able to read.
pub fn sys_inotify_add_watch(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let mask = a[2] as u32;
    // Linux's order: the flags, the descriptor, then the path.
    if mask & IN_ALL_EVENTS == 0
        || mask & (IN_MASK_ADD | IN_MASK_CREATE) == IN_MASK_ADD | IN_MASK_CREATE
    {
        return Err(Errno::EINVAL);
    }
    let inst = instance(p, a[0])?;
    let path = k.read_path(p, a[1])?;
    let ino = k.lookup_at(p, AT_FDCWD, &path, mask & IN_DONT_FOLLOW == 0)?;
    let st = k.stat_ino(p, ino)?;
    let dir = st.mode & S_IFMT == S_IFDIR;
    if mask & IN_ONLYDIR != 0 && !dir {
        return Err(Errno::ENOTDIR);
    }
    k.may(&p.creds.clone(), ino, MAY_READ)?;
    // A directory's entries, so that events on them reach its watch by name.
    let entries = if dir && !crate::procfs::is_proc(ino) {
        let mut all = Vec::new();
        let mut cookie = 0;
        loop {
            let batch = k.fs.readdir(ino, cookie, 256)?;
            let Some(last) = batch.last() else {
                break;
            };
            cookie = last.next;
            all.extend(batch);
        }
        Some(all)
    } else {
        None
    };
    let wd = k
        .inotify
        .borrow_mut()
        .add_watch(&inst, ino, mask, entries)?;
    Ok(wd as u64)
}

/// inotify_rm_watch(fd, wd): the watch ends with an IN_IGNORED event.
pub fn sys_inotify_rm_watch(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let inst = instance(p, a[0])?;
    k.inotify.borrow_mut().rm_watch(&inst, a[1] as i32)?;
    Ok(0)
}
