//! Attribute syscalls: permissions (fchmod, fchmodat, fchmodat2), ownership (fchown,
//! fchownat), times (utimensat) and size (truncate, ftruncate, fallocate), with Linux's
//! ownership rules (creds.rs: only the owner or root may chmod or set times, only root
//! may give a file away) and the errors the man pages give for bad arguments, file types
//! and descriptors.

use friscy_abi::Errno;
use friscy_abi::mode::*;
use friscy_vfs::{Ino, SetAttr, Timespec};

use super::fs::{AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, O_ACCMODE, O_PATH, fd_arg};
use super::{Args, SysResult};
use crate::creds::{MAY_WRITE, Owner};
use crate::fd::FileKind;
use crate::{Kernel, Process, procfs};

use crate::creds::{S_ISGID, S_ISUID};
const UTIME_NOW: u64 = (1 << 30) - 1;
const UTIME_OMIT: u64 = (1 << 30) - 2;

const FALLOC_FL_KEEP_SIZE: u64 = 0x01;
const FALLOC_FL_PUNCH_HOLE: u64 = 0x02;
const FALLOC_FL_ZERO_RANGE: u64 = 0x10;

impl Kernel {
    /// The inode a descriptor refers to, for the f*() calls. `allow_path`: whether an
    /// O_PATH descriptor will do (fchownat with AT_EMPTY_PATH) or gives EBADF (fchmod...).
    fn fd_inode(&mut self, p: &Process, fd: i32, allow_path: bool) -> Result<Ino, Errno> {
        let file = p.fds.file(fd)?;
        let f = file.borrow();
        if !allow_path && f.flags & O_PATH != 0 {
            return Err(Errno::EBADF);
        }
        match &f.kind {
            FileKind::Inode(ino) => Ok(*ino),
            FileKind::Proc(pf) => Ok(pf.ino),
            // Pipes, terminals and devices opened without a node have no attributes to keep.
            _ => Err(Errno::EPERM),
        }
    }

    /// A path (or, with AT_EMPTY_PATH and "", `dirfd` itself) for the *at() calls.
    fn at_inode(
        &mut self,
        p: &Process,
        dirfd: i32,
        path_addr: u64,
        flags: u64,
    ) -> Result<Ino, Errno> {
        let path = self.read_path(p, path_addr)?;
        if path.is_empty() && flags & AT_EMPTY_PATH != 0 {
            if dirfd == AT_FDCWD {
                return Ok(p.cwd);
            }
            return self.fd_inode(p, dirfd, true);
        }
        self.lookup_at(p, dirfd, &path, flags & AT_SYMLINK_NOFOLLOW == 0)
    }

    fn set_attr_ino(&mut self, ino: Ino, attr: &SetAttr) -> Result<(), Errno> {
        // /proc's attributes are fixed (Linux refuses most of these there with EPERM).
        if procfs::is_proc(ino) {
            return Err(Errno::EPERM);
        }
        self.check_writable(ino)?;
        if attr.size.is_some() {
            // Mappings keep the bytes they mapped (pages not read yet are read now).
            self.page_cache_settle(ino)?;
        }
        self.fs.set_attr(ino, attr)
    }

    /// The owner and mode the ownership rules look at; `None` for nodes whose
    /// permissions are not ours to check (/proc, host mounts: see perm.rs).
    fn owner_checked(&mut self, ino: Ino) -> Result<Option<Owner>, Errno> {
        if procfs::is_proc(ino) || crate::mounts::is_host(ino) {
            return Ok(None);
        }
        self.owner(ino).map(Some)
    }

    fn chmod(&mut self, p: &Process, ino: Ino, mode: u64) -> SysResult {
        let mut mode = mode as u32 & 0o7777;
        if let Some(o) = self.owner_checked(ino)? {
            // chmod(2): EPERM unless the owner or root; set-group-ID dropped for a group
            // the caller is not in.
            if !p.creds.owns(o) {
                return Err(Errno::EPERM);
            }
            mode = p.creds.chmod_mode(o, mode);
        }
        self.set_attr_ino(
            ino,
            &SetAttr {
                mode: Some(mode),
                ..SetAttr::default()
            },
        )?;
        Ok(0)
    }

    fn chown(&mut self, p: &Process, ino: Ino, uid: u64, gid: u64) -> SysResult {
        let (uid, gid) = (uid as u32, gid as u32);
        let mut attr = SetAttr {
            uid: (uid != u32::MAX).then_some(uid),
            gid: (gid != u32::MAX).then_some(gid),
            ..SetAttr::default()
        };
        if let Some(o) = self.owner_checked(ino)?
            && !p.creds.may_chown(o, attr.uid, attr.gid)
        {
            return Err(Errno::EPERM);
        }
        // chown_common()/notify_change(): on anything but a directory, a chown (even a
        // no-op one) clears set-user-ID, and set-group-ID when group execute is set.
        let mode = self.stat_ino(p, ino)?.mode;
        if mode & S_IFMT != S_IFDIR && mode & S_IFMT != S_IFLNK {
            let mut kill = S_ISUID;
            if mode & (S_ISGID | 0o010) == S_ISGID | 0o010 {
                kill |= S_ISGID;
            }
            if mode & kill != 0 {
                attr.mode = Some(mode & 0o7777 & !kill);
            }
        }
        self.set_attr_ino(ino, &attr)?;
        Ok(0)
    }
}

pub fn sys_fchmod(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let ino = k.fd_inode(p, fd_arg(a[0]), false)?;
    k.chmod(p, ino, a[1])
}

pub fn sys_fchmodat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let ino = k.at_inode(p, fd_arg(a[0]), a[1], 0)?;
    k.chmod(p, ino, a[2])
}

pub fn sys_fchmodat2(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let flags = a[3];
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let ino = k.at_inode(p, fd_arg(a[0]), a[1], flags)?;
    // fchmodat2: the mode of a symlink cannot be changed (EOPNOTSUPP).
    if flags & AT_SYMLINK_NOFOLLOW != 0 && k.stat_ino(p, ino)?.mode & S_IFMT == S_IFLNK {
        return Err(Errno::EOPNOTSUPP);
    }
    k.chmod(p, ino, a[2])
}

pub fn sys_fchown(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let ino = k.fd_inode(p, fd_arg(a[0]), false)?;
    k.chown(p, ino, a[1], a[2])
}

pub fn sys_fchownat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let flags = a[4];
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let ino = k.at_inode(p, fd_arg(a[0]), a[1], flags)?;
    k.chown(p, ino, a[2], a[3])
}

pub fn sys_utimensat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (dirfd, path, times, flags) = (fd_arg(a[0]), a[1], a[2], a[3]);
    let (wall_s, wall_ns) = k.host.wall_clock();
    let now = Timespec {
        sec: wall_s,
        nsec: wall_ns,
    };
    // sys_utimensat/do_utimes order: read the times (EFAULT), both UTIME_OMIT succeeds
    // without looking at the path, then invalid nanoseconds and flags are EINVAL.
    let raw = if times == 0 {
        None
    } else {
        let b = k.read_user(p, times, 32)?;
        let word = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap());
        Some([(word(0), word(1)), (word(2), word(3))])
    };
    if let Some([(_, UTIME_OMIT), (_, UTIME_OMIT)]) = raw {
        return Ok(0);
    }
    let pick = |(sec, nsec): (u64, u64)| -> Result<Option<Timespec>, Errno> {
        Ok(match nsec {
            UTIME_NOW => Some(now),
            UTIME_OMIT => None,
            n if n < 1_000_000_000 => Some(Timespec {
                sec: sec as i64,
                nsec: n as u32,
            }),
            _ => return Err(Errno::EINVAL),
        })
    };
    let (atime, mtime) = match raw {
        None => (Some(now), Some(now)),
        Some([at, mt]) => (pick(at)?, pick(mt)?),
    };
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    // A NULL path means dirfd itself (futimens), which takes no flags; with AT_FDCWD the
    // NULL is read as a path (EFAULT).
    let ino = if path == 0 && dirfd != AT_FDCWD {
        if flags != 0 {
            return Err(Errno::EINVAL);
        }
        k.fd_inode(p, dirfd, true)?
    } else {
        k.at_inode(p, dirfd, path, flags)?
    };
    if let Some(o) = k.owner_checked(ino)?
        && !p.creds.owns(o)
    {
        // utimensat(2): setting both times to now needs write permission (EACCES), any
        // other time ownership (EPERM).
        let touch = match raw {
            None => true,
            Some([(_, a), (_, m)]) => a == UTIME_NOW && m == UTIME_NOW,
        };
        if !touch {
            return Err(Errno::EPERM);
        }
        k.may(&p.creds.clone(), ino, MAY_WRITE)?;
    }
    k.set_attr_ino(
        ino,
        &SetAttr {
            atime,
            mtime,
            ..SetAttr::default()
        },
    )?;
    Ok(0)
}

fn resize(k: &mut Kernel, ino: Ino, size: u64) -> SysResult {
    k.set_attr_ino(
        ino,
        &SetAttr {
            size: Some(size),
            ..SetAttr::default()
        },
    )?;
    Ok(0)
}

pub fn sys_truncate(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let path = k.read_path(p, a[0])?;
    if (a[1] as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let ino = k.lookup_at(p, AT_FDCWD, &path, true)?;
    // truncate(2): EISDIR for a directory, EINVAL for other non-regular files, EACCES
    // without write permission.
    match k.stat_ino(p, ino)?.mode & S_IFMT {
        S_IFREG => {
            k.may(&p.creds.clone(), ino, MAY_WRITE)?;
            resize(k, ino, a[1])
        }
        S_IFDIR => Err(Errno::EISDIR),
        _ => Err(Errno::EINVAL),
    }
}

pub fn sys_ftruncate(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let ino = k.fd_inode(p, fd_arg(a[0]), false).map_err(|e| match e {
        Errno::EPERM => Errno::EINVAL,
        e => e,
    })?;
    if (a[1] as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    // do_sys_ftruncate: EINVAL unless a regular file open for writing.
    let writable = p.fds.file(fd_arg(a[0]))?.borrow().flags & O_ACCMODE != 0;
    if !writable || k.stat_ino(p, ino)?.mode & S_IFMT != S_IFREG {
        return Err(Errno::EINVAL);
    }
    resize(k, ino, a[1])
}

pub fn sys_fallocate(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (fd, mode, offset, len) = (fd_arg(a[0]), a[1], a[2] as i64, a[3] as i64);
    let file = p.fds.file(fd)?;
    let (kind, flags) = {
        let f = file.borrow();
        (f.kind.clone(), f.flags)
    };
    // vfs_fallocate's order: arguments, then the mode, then the descriptor and file type.
    if offset < 0 || len <= 0 {
        return Err(Errno::EINVAL);
    }
    let known = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE;
    if mode & !known != 0 {
        // COLLAPSE_RANGE, INSERT_RANGE, UNSHARE_RANGE: tmpfs does not have them either.
        return Err(Errno::EOPNOTSUPP);
    }
    // vfs_fallocate: punching a hole needs KEEP_SIZE and excludes ZERO_RANGE.
    if mode & FALLOC_FL_PUNCH_HOLE != 0
        && (mode & FALLOC_FL_KEEP_SIZE == 0 || mode & FALLOC_FL_ZERO_RANGE != 0)
    {
        return Err(Errno::EOPNOTSUPP);
    }
    if flags & O_ACCMODE == 0 || flags & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    let ino = match kind {
        FileKind::Inode(ino) => ino,
        FileKind::Stdio(_) | FileKind::Pipe(_) => return Err(Errno::ESPIPE),
        _ => return Err(Errno::ENODEV),
    };
    let st = k.stat_ino(p, ino)?;
    match st.mode & S_IFMT {
        S_IFREG => {}
        S_IFDIR => return Err(Errno::EISDIR),
        S_IFIFO => return Err(Errno::ESPIPE),
        _ => return Err(Errno::ENODEV),
    }
    let end = (offset as u64)
        .checked_add(len as u64)
        .filter(|&e| e <= i64::MAX as u64)
        .ok_or(Errno::EFBIG)?;
    if mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE) != 0 {
        // The range reads as zeros afterwards (within the file, for a punched hole).
        let zero_to = if mode & FALLOC_FL_KEEP_SIZE != 0 {
            end.min(st.size)
        } else {
            end
        };
        let mut at = offset as u64;
        while at < zero_to {
            let n = (zero_to - at).min(1 << 20);
            k.fs.write(ino, at, &vec![0; n as usize])?;
            at += n;
        }
        return Ok(0);
    }
    // Mode 0 allocates, growing the file; KEEP_SIZE only reserves space, which an
    // in-memory file does not need.
    if mode & FALLOC_FL_KEEP_SIZE == 0 && end > st.size {
        resize(k, ino, end)?;
    }
    Ok(0)
}
