//! Naming syscalls beyond open/mkdir/unlink: renameat2, linkat, symlinkat and mknodat.
//! The vfs checks names, types and emptiness; this layer reads the arguments, checks the
//! flags and resolves the parent directories (with /proc, which holds nothing of ours).

use friscy_abi::Errno;
use friscy_abi::mode::*;
use friscy_vfs::Ino;

use super::fs::{AT_EMPTY_PATH, AT_FDCWD, O_PATH, fd_arg};
use super::stat::makedev;
use super::{Args, SysResult};
use crate::fd::FileKind;
use crate::{Kernel, Process, procfs};

const AT_SYMLINK_FOLLOW: u64 = 0x400;

/// Whether a path (from `start`) names something in /proc, which holds nothing of ours.
fn in_proc(start: Ino, path: &[u8]) -> bool {
    procfs::is_proc(start)
        || (path.starts_with(b"/")
            && path
                .split(|&c| c == b'/')
                .find(|c| !c.is_empty())
                .is_some_and(|c| c == b"proc"))
}

impl Kernel {
    /// The directory that will hold a new (or renamed, or removed) name, and the name.
    pub(crate) fn parent_at(
        &mut self,
        p: &Process,
        dirfd: i32,
        path: &[u8],
    ) -> Result<(Ino, Vec<u8>), Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let start = self.start_dir(p, dirfd, path)?;
        if in_proc(start, path) {
            // proc_root_lookup: a name /proc does not have is ENOENT, for creating too.
            return Err(Errno::ENOENT);
        }
        self.lookup_parent_as(&p.creds, start, path)
    }
}

pub fn sys_renameat2(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (olddir, oldpath) = (fd_arg(a[0]), k.read_path(p, a[1])?);
    let (newdir, newpath) = (fd_arg(a[2]), k.read_path(p, a[3])?);
    let flags = a[4] as u32;
    // Renaming into or out of /proc crosses filesystems (checked before any lookup).
    let starts = (
        k.start_dir(p, olddir, &oldpath)?,
        k.start_dir(p, newdir, &newpath)?,
    );
    if in_proc(starts.0, &oldpath) != in_proc(starts.1, &newpath) {
        return Err(Errno::EXDEV);
    }
    let (op, on) = k.parent_at(p, olddir, &oldpath)?;
    let (np, nn) = k.parent_at(p, newdir, &newpath)?;
    may_rename(k, p, (op, &on), (np, &nn))?;
    k.fs.rename(op, &on, np, &nn, flags)?;
    Ok(0)
}

/// vfs_rename()'s permission checks: removing the old name, making or replacing the
/// new one, and for a directory that changes parent, writing its ".." (write permission
/// on the directory itself; for RENAME_EXCHANGE on the other one too). Missing names are
/// left to the vfs's errors.
fn may_rename(
    k: &mut Kernel,
    p: &Process,
    (op, on): (Ino, &[u8]),
    (np, nn): (Ino, &[u8]),
) -> Result<(), Errno> {
    let creds = p.creds.clone();
    let Ok(src) = k.fs.lookup(op, on, false) else {
        return Ok(());
    };
    let dst = k.fs.lookup(np, nn, false).ok();
    if dst == Some(src) {
        return Ok(()); // rename(2): nothing to do
    }
    k.may_delete(&creds, op, on)?;
    match dst {
        Some(_) => k.may_delete(&creds, np, nn)?,
        None if !matches!(nn, b"" | b"." | b".." | b"/") => k.may_create(&creds, np)?,
        None => {}
    }
    if op != np {
        for node in [Some(src), dst].into_iter().flatten() {
            if k.fs.stat(node)?.mode & S_IFMT == S_IFDIR {
                k.may(&creds, node, crate::creds::MAY_WRITE)?;
            }
        }
    }
    Ok(())
}

pub fn sys_linkat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (olddir, oldpath) = (fd_arg(a[0]), k.read_path(p, a[1])?);
    let (newdir, newpath) = (fd_arg(a[2]), k.read_path(p, a[3])?);
    let flags = a[4];
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    // linkat(2): without AT_SYMLINK_FOLLOW a symlink itself gets the new name.
    let node = if oldpath.is_empty() && flags & AT_EMPTY_PATH != 0 {
        let file = p.fds.file(olddir)?;
        let f = file.borrow();
        match f.kind {
            FileKind::Inode(ino) if !procfs::is_proc(ino) => ino,
            _ if f.flags & O_PATH != 0 => return Err(Errno::EXDEV),
            _ => return Err(Errno::EXDEV),
        }
    } else {
        k.lookup_at(p, olddir, &oldpath, flags & AT_SYMLINK_FOLLOW != 0)?
    };
    if procfs::is_proc(node) {
        return Err(Errno::EXDEV); // another filesystem
    }
    let (parent, name) = k.parent_at(p, newdir, &newpath)?;
    if newpath.ends_with(b"/") {
        // A trailing slash names a directory, and a link to a non-directory cannot be one.
        return Err(if k.fs.lookup(parent, &name, false).is_ok() {
            Errno::EEXIST
        } else {
            Errno::ENOENT
        });
    }
    let creds = p.creds.clone();
    if !procfs::is_proc(parent) && k.fs.lookup(parent, &name, false).is_err() {
        k.may_create(&creds, parent)?;
        // may_linkat(): protected hard links.
        if !crate::mounts::is_host(node) && !creds.may_link(k.owner(node)?) {
            return Err(Errno::EPERM);
        }
    }
    k.fs.link(node, parent, &name)?;
    Ok(0)
}

pub fn sys_symlinkat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let target = k.read_path(p, a[0])?;
    let (dirfd, path) = (fd_arg(a[1]), k.read_path(p, a[2])?);
    let (parent, name) = k.parent_at(p, dirfd, &path)?;
    if path.ends_with(b"/") {
        return Err(if k.fs.lookup(parent, &name, false).is_ok() {
            Errno::EEXIST
        } else {
            Errno::ENOENT
        });
    }
    k.create_symlink(&p.creds.clone(), parent, &name, &target)?;
    Ok(0)
}

pub fn sys_mknodat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (dirfd, path, mode, dev) = (fd_arg(a[0]), k.read_path(p, a[1])?, a[2] as u32, a[3]);
    // may_mknod(): a directory is EPERM, a symlink or unknown type EINVAL.
    let ftype = match mode & S_IFMT {
        0 => S_IFREG,
        S_IFDIR => return Err(Errno::EPERM),
        t @ (S_IFREG | S_IFCHR | S_IFBLK | S_IFIFO | S_IFSOCK) => t,
        _ => return Err(Errno::EINVAL),
    };
    // The dev_t argument is the kernel's 32-bit encoding (new_decode_dev).
    let dev = dev as u32;
    let rdev = match ftype {
        S_IFCHR | S_IFBLK => makedev((dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00)),
        _ => 0,
    };
    let (parent, name) = k.parent_at(
        p,
        if path.starts_with(b"/") {
            AT_FDCWD
        } else {
            dirfd
        },
        &path,
    )?;
    if path.ends_with(b"/") {
        return Err(if k.fs.lookup(parent, &name, false).is_ok() {
            Errno::EEXIST
        } else {
            Errno::ENOENT
        });
    }
    let mode = ftype | (mode & 0o7777 & !p.umask);
    k.create_node(&p.creds.clone(), parent, &name, mode, rdev)?;
    Ok(0)
}
