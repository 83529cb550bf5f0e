//! stat syscalls: newfstatat, fstat, statx, statfs, fstatfs, and the encodings of
//! `struct stat`, `struct statx` and `struct statfs` as riscv64 (asm-generic) lays them out.

use friscy_abi::Errno;
use friscy_abi::mode::*;
use friscy_vfs::{Ino, Stat};

use super::fs::{AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, fd_arg};
use super::{Args, SysResult};
use crate::fd::{FileKind, OpenFile};
use crate::{Kernel, Process, procfs};

/// statx(2) flags beyond the AT_* ones newfstatat shares.
const AT_NO_AUTOMOUNT: u64 = 0x800;
const AT_STATX_SYNC_TYPE: u64 = 0x6000;
/// STATX_BASIC_STATS: type, mode, nlink, uid, gid, atime, mtime, ctime, ino, size, blocks.
const STATX_BASIC_STATS: u32 = 0x7ff;
const STATX_MNT_ID: u32 = 0x1000;
const STATX_RESERVED: u32 = 0x8000_0000;

/// Filesystem magic numbers (include/uapi/linux/magic.h) for statfs(2)'s f_type.
const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;
const PIPEFS_MAGIC: i64 = 0x5049_5045;
const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;

pub fn makedev(major: u32, minor: u32) -> u64 {
    // The glibc/Linux encoding of dev_t (sys/sysmacros.h).
    let (ma, mi) = (major as u64, minor as u64);
    ((ma & 0xfffff000) << 32) | ((ma & 0xfff) << 8) | ((mi & 0xffffff00) << 12) | (mi & 0xff)
}

pub fn major(dev: u64) -> u32 {
    (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)) as u32
}

pub fn minor(dev: u64) -> u32 {
    (((dev >> 12) & 0xffff_ff00) | (dev & 0xff)) as u32
}

/// The st_dev of an inode: the root filesystem is device 0:1 (an anonymous device, as
/// overlayfs roots are), /proc its own.
pub fn dev_of(ino: Ino) -> u64 {
    if procfs::is_proc(ino) {
        procfs::DEV
    } else {
        makedev(0, 1)
    }
}

/// The st_dev of what an open file refers to when it is not in a filesystem of ours:
/// pipes (and the host's non-terminal streams, which are pipes or files on the host) on
/// pipefs, sockets on sockfs, epoll, eventfd and timerfd on anon_inodefs, each an
/// anonymous device of its own as on Linux, so that their inode numbers never collide
/// with a file's (GNU tar with several operands takes equal (st_dev, st_ino) pairs for
/// hard links). Device numbers as a Debian kernel assigns them at boot.
pub fn pseudo_dev(kind: &FileKind) -> Option<u64> {
    match kind {
        FileKind::Pipe(end) if end.fifo.is_none() => Some(makedev(0, 13)),
        FileKind::Stdio(_) => Some(makedev(0, 13)),
        FileKind::Socket(_) => Some(makedev(0, 8)),
        FileKind::Epoll(_)
        | FileKind::EventFd(_)
        | FileKind::TimerFd(_)
        | FileKind::SignalFd(_)
        | FileKind::Inotify(_)
        | FileKind::PidFd(_) => Some(makedev(0, 14)),
        _ => None,
    }
}

/// `struct stat` as riscv64 (asm-generic) lays it out: 128 bytes, on device `dev`.
pub fn encode_stat(st: &Stat, dev: u64) -> [u8; 128] {
    let mut b = [0u8; 128];
    let mut put = |off: usize, bytes: &[u8]| b[off..off + bytes.len()].copy_from_slice(bytes);
    put(0, &dev.to_le_bytes());
    put(8, &st.ino.to_le_bytes());
    put(16, &st.mode.to_le_bytes());
    put(20, &st.nlink.to_le_bytes());
    put(24, &st.uid.to_le_bytes());
    put(28, &st.gid.to_le_bytes());
    put(32, &st.rdev.to_le_bytes());
    put(48, &st.size.to_le_bytes());
    put(56, &4096u32.to_le_bytes()); // st_blksize
    put(64, &st.blocks.to_le_bytes());
    for (off, t) in [(72, st.atime), (88, st.mtime), (104, st.ctime)] {
        put(off, &t.sec.to_le_bytes());
        put(off + 8, &(t.nsec as u64).to_le_bytes());
    }
    b
}

/// `struct statx` (include/uapi/linux/stat.h): 256 bytes. Birth time is not recorded, so
/// STATX_BTIME is never in the returned mask.
pub fn encode_statx(st: &Stat, dev: u64) -> [u8; 256] {
    let mut b = [0u8; 256];
    let mut put = |off: usize, bytes: &[u8]| b[off..off + bytes.len()].copy_from_slice(bytes);
    put(0, &(STATX_BASIC_STATS | STATX_MNT_ID).to_le_bytes());
    put(4, &4096u32.to_le_bytes()); // stx_blksize
    put(16, &st.nlink.to_le_bytes());
    put(20, &st.uid.to_le_bytes());
    put(24, &st.gid.to_le_bytes());
    put(28, &(st.mode as u16).to_le_bytes());
    put(32, &st.ino.to_le_bytes());
    put(40, &st.size.to_le_bytes());
    put(48, &st.blocks.to_le_bytes());
    // atime, btime (absent), ctime, mtime: statx_timestamp is { i64 sec; u32 nsec; pad }.
    for (off, t) in [(64, st.atime), (96, st.ctime), (112, st.mtime)] {
        put(off, &t.sec.to_le_bytes());
        put(off + 8, &t.nsec.to_le_bytes());
    }
    put(128, &major(st.rdev).to_le_bytes());
    put(132, &minor(st.rdev).to_le_bytes());
    put(136, &major(dev).to_le_bytes());
    put(140, &minor(dev).to_le_bytes());
    // stx_mnt_id: the root is mount 1, /proc mount 2 (the order /proc/self/mounts lists).
    put(
        144,
        &(if procfs::is_proc(st.ino) { 2u64 } else { 1 }).to_le_bytes(),
    );
    b
}

/// `struct statfs` on 64-bit asm-generic: 120 bytes. The root filesystem's sizes are the
/// writable layer's (its limit, `FRISCY_DISK`, and what is written), as df shows for a
/// container's overlay; other filesystems report none.
fn encode_statfs(f_type: i64, usage: friscy_vfs::Usage) -> [u8; 120] {
    let (blocks, free, files, ffree) = if f_type == OVERLAYFS_SUPER_MAGIC {
        (
            usage.capacity / 4096,
            usage.capacity.saturating_sub(usage.used) / 4096,
            usage.inodes,
            usage.inodes.saturating_sub(usage.inodes_used),
        )
    } else {
        (0, 0, 0, 0)
    };
    let fields: [i64; 15] = [
        f_type,
        4096,          // f_bsize
        blocks as i64, // f_blocks
        free as i64,   // f_bfree
        free as i64,   // f_bavail
        files as i64,  // f_files
        ffree as i64,  // f_ffree
        0,             // f_fsid (two zero ints)
        255,           // f_namelen
        4096,          // f_frsize
        0x20,          // f_flags: ST_VALID
        0,
        0,
        0,
        0,
    ];
    let mut b = [0u8; 120];
    for (i, v) in fields.iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
    }
    b
}

impl Kernel {
    /// stat of an inode the kernel resolved: the vfs's, or /proc's own.
    pub(crate) fn stat_ino(&mut self, p: &Process, ino: Ino) -> Result<Stat, Errno> {
        if procfs::is_proc(ino) {
            procfs::stat(self, p, ino)
        } else {
            self.fs.stat(ino)
        }
    }

    /// What newfstatat and statx look at: a path from `dirfd`, or with AT_EMPTY_PATH and
    /// an empty path the descriptor itself.
    /// Also returns the st_dev it is on.
    fn stat_at(
        &mut self,
        p: &Process,
        dirfd: i32,
        path: &[u8],
        flags: u64,
    ) -> Result<(Stat, u64), Errno> {
        if path.is_empty() && flags & AT_EMPTY_PATH != 0 {
            if dirfd == AT_FDCWD {
                let st = self.stat_ino(p, p.cwd)?;
                let dev = dev_of(st.ino);
                return Ok((st, dev));
            }
            let file = p.fds.file(dirfd)?;
            let f = file.borrow();
            let st = self.stat_file(p, &f)?;
            let dev = pseudo_dev(&f.kind).unwrap_or(dev_of(st.ino));
            return Ok((st, dev));
        }
        let ino = self.lookup_at(p, dirfd, path, flags & AT_SYMLINK_NOFOLLOW == 0)?;
        let st = self.stat_ino(p, ino)?;
        let dev = dev_of(st.ino);
        Ok((st, dev))
    }
}

impl Kernel {
    /// A `stat` of whatever an open file refers to.
    pub(crate) fn stat_file(&mut self, p: &Process, file: &OpenFile) -> Result<Stat, Errno> {
        match &file.kind {
            FileKind::Inode(ino) => self.stat_ino(p, *ino),
            FileKind::Proc(pf) => self.stat_ino(p, pf.ino),
            FileKind::Device(d) => {
                let (major, minor) = d.rdev();
                Ok(char_device_stat(makedev(major, minor), 0o666))
            }
            FileKind::Stdio(_) => Ok(Stat {
                mode: S_IFIFO | 0o600,
                nlink: 1,
                ..Stat::default()
            }),
            // The node in /dev/pts, so that ttyname(3) finds it (it compares st_dev and
            // st_ino with the descriptor's).
            FileKind::Tty(end) => {
                let (path, rdev, perm): (&[u8], u64, u32) = if end.master {
                    (b"dev/pts/ptmx", makedev(5, 2), 0o666)
                } else {
                    let index = end.tty.borrow().index;
                    return Ok(self.pts_stat(index));
                };
                let root = self.fs.root();
                match self.fs.lookup(root, path, false) {
                    Ok(ino) => self.fs.stat(ino),
                    Err(_) => Ok(char_device_stat(rdev, perm)),
                }
            }
            FileKind::Pipe(crate::pipe::PipeEnd {
                fifo: Some(ino), ..
            }) => self.stat_ino(p, *ino),
            FileKind::Pipe(end) => Ok(Stat {
                ino: end.pipe.borrow().id,
                mode: S_IFIFO | 0o600,
                nlink: 1,
                ..Stat::default()
            }),
            // Anonymous inodes: mode 0600 and no file type, as Linux shows them.
            FileKind::Epoll(_)
            | FileKind::EventFd(_)
            | FileKind::TimerFd(_)
            | FileKind::SignalFd(_)
            | FileKind::Inotify(_)
            | FileKind::PidFd(_) => Ok(Stat {
                mode: 0o600,
                nlink: 1,
                ..Stat::default()
            }),
            // sockfs: S_IFSOCK 0777, an inode number per socket.
            FileKind::Socket(s) => Ok(Stat {
                ino: crate::socket::sockfs_ino(&s.0),
                mode: friscy_abi::mode::S_IFSOCK | 0o777,
                nlink: 1,
                ..Stat::default()
            }),
        }
    }
}

pub fn sys_newfstatat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (dirfd, path, flags) = (fd_arg(a[0]), k.read_path(p, a[1])?, a[3]);
    // fstatat(2): EINVAL for flags other than these.
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL);
    }
    let (st, dev) = k.stat_at(p, dirfd, &path, flags)?;
    k.write_user(p, a[2], &encode_stat(&st, dev))?;
    Ok(0)
}

pub fn sys_fstat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let file = p.fds.file(fd_arg(a[0]))?;
    let f = file.borrow();
    let st = k.stat_file(p, &f)?;
    let dev = pseudo_dev(&f.kind).unwrap_or(dev_of(st.ino));
    k.write_user(p, a[1], &encode_stat(&st, dev))?;
    Ok(0)
}

pub fn sys_statx(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (dirfd, flags, mask, buf) = (fd_arg(a[0]), a[2], a[3] as u32, a[4]);
    let known = AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE;
    // statx(2): EINVAL for unknown flags, both sync types at once, or a reserved mask bit.
    if flags & !known != 0
        || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE
        || mask & STATX_RESERVED != 0
    {
        return Err(Errno::EINVAL);
    }
    // Since Linux 6.11 a NULL path with AT_EMPTY_PATH means the descriptor itself.
    let path = if a[1] == 0 && flags & AT_EMPTY_PATH != 0 {
        Vec::new()
    } else {
        k.read_path(p, a[1])?
    };
    let (st, dev) = k.stat_at(p, dirfd, &path, flags)?;
    k.write_user(p, buf, &encode_statx(&st, dev))?;
    Ok(0)
}

impl Kernel {
    /// f_type for statfs of an open file.
    fn fs_type_of(&mut self, kind: &FileKind) -> i64 {
        match kind {
            FileKind::Inode(ino) if procfs::is_proc(*ino) => procfs::SUPER_MAGIC,
            FileKind::Proc(_) => procfs::SUPER_MAGIC,
            FileKind::Tty(_) => DEVPTS_SUPER_MAGIC,
            FileKind::Stdio(_) | FileKind::Pipe(_) => PIPEFS_MAGIC,
            _ => OVERLAYFS_SUPER_MAGIC,
        }
    }
}

pub fn sys_statfs(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let path = k.read_path(p, a[0])?;
    let ino = k.lookup_at(p, AT_FDCWD, &path, true)?;
    let kind = FileKind::Inode(ino);
    let f_type = k.fs_type_of(&kind);
    let usage = writable_layer_usage(k, p, ino);
    k.write_user(p, a[1], &encode_statfs(f_type, usage))?;
    Ok(0)
}

/// The writable layer's usage, after freeing unlinked files nobody has open (vfs keeps
/// them until the kernel says; Linux frees them at the last close, so df after rm must
/// not count them). `held` is an inode the caller has open.
fn writable_layer_usage(k: &mut Kernel, p: &Process, held: friscy_vfs::Ino) -> friscy_vfs::Usage {
    k.reclaim_space(p, held);
    k.fs.usage()
}

pub fn sys_fstatfs(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let kind = p.fds.file(fd_arg(a[0]))?.borrow().kind.clone();
    let f_type = k.fs_type_of(&kind);
    let usage = writable_layer_usage(k, p, k.fs.root());
    k.write_user(p, a[1], &encode_statfs(f_type, usage))?;
    Ok(0)
}

/// The stat a character device shows when the kernel made it up (fstat of a device opened
/// before /dev existed, or of the host's terminal).
pub fn char_device_stat(rdev: u64, perm: u32) -> Stat {
    Stat {
        mode: S_IFCHR | perm,
        nlink: 1,
        rdev,
        ..Stat::default()
    }
}

impl Kernel {
    /// The stat of /dev/pts/N: its node, or one made up if it is gone.
    pub(crate) fn pts_stat(&mut self, index: u32) -> Stat {
        let root = self.fs.root();
        let path = format!("dev/pts/{index}");
        match self.fs.lookup(root, path.as_bytes(), false) {
            Ok(ino) => self
                .fs
                .stat(ino)
                .unwrap_or_else(|_| char_device_stat(makedev(136, index), 0o620)),
            Err(_) => char_device_stat(makedev(136, index), 0o620),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_layout_matches_asm_generic() {
        let st = Stat {
            ino: 7,
            mode: S_IFREG | 0o755,
            nlink: 1,
            size: 1234,
            ..Stat::default()
        };
        let b = encode_stat(&st, dev_of(st.ino));
        assert_eq!(u64::from_le_bytes(b[8..16].try_into().unwrap()), 7);
        assert_eq!(
            u32::from_le_bytes(b[16..20].try_into().unwrap()),
            S_IFREG | 0o755
        );
        assert_eq!(u64::from_le_bytes(b[48..56].try_into().unwrap()), 1234);
        assert_eq!(makedev(136, 0), 0x8800);
        assert_eq!(makedev(1, 3), 0x103);
        assert_eq!(
            (major(makedev(300, 70000)), minor(makedev(300, 70000))),
            (300, 70000)
        );
        let x = encode_statx(&st, dev_of(st.ino));
        assert_eq!(u16::from_le_bytes(x[28..30].try_into().unwrap()), 0o100755);
        assert_eq!(u64::from_le_bytes(x[40..48].try_into().unwrap()), 1234);
    }
}
